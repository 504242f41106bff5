# Multi-stage image of the Web app. Build: docker build -t evalplatform .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props BannedSymbols.txt .editorconfig appsettings.json ./
COPY EvalPlatform.Core/EvalPlatform.Core.csproj EvalPlatform.Core/
COPY EvalPlatform.Data/EvalPlatform.Data.csproj EvalPlatform.Data/
COPY EvalPlatform.Web/EvalPlatform.Web.csproj EvalPlatform.Web/
RUN dotnet restore EvalPlatform.Web/EvalPlatform.Web.csproj
COPY EvalPlatform.Core/ EvalPlatform.Core/
COPY EvalPlatform.Data/ EvalPlatform.Data/
COPY EvalPlatform.Web/ EvalPlatform.Web/
RUN dotnet publish EvalPlatform.Web/EvalPlatform.Web.csproj -c Release -o /app --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app ./
# The embedded default writes its SQLite file under /app/data; mount a volume there, or set
# ConnectionStrings__Postgres (and ConnectionStrings__Redis) for the production shape.
RUN mkdir -p /app/data && chown -R app:app /app/data
USER app
ENV ASPNETCORE_HTTP_PORTS=8080
EXPOSE 8080
ENTRYPOINT ["dotnet", "EvalPlatform.Web.dll"]
