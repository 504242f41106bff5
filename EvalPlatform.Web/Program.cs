using EvalPlatform.Core;
using EvalPlatform.Data;
using EvalPlatform.Web.Admin;
using EvalPlatform.Web.Hosting;
using EvalPlatform.Web.Jobs;

if (AdminCli.IsAdminCommand(args))
{
    return await AdminCli.RunAsync(args);
}

var builder = WebApplication.CreateBuilder(args);
builder.AddEvalConfiguration(args);
builder.AddEvalData();
builder.Services.AddEvalCore();
builder.AddEvalWeb();
builder.AddEvalJobs();

var app = builder.Build();
if (!await app.PrepareInfrastructureAsync())
{
    // Disposing flushes the console logger's queue: without it the one line naming the setting could be lost.
    await app.DisposeAsync();
    return 1;
}

app.UseEvalWeb();
app.MapEvalApi();
app.MapEvalUi();
app.LogWhereToBrowse();

await app.RunAsync();
return 0;

/// <summary>The entry point, visible to <c>WebApplicationFactory</c> in the tests.</summary>
public partial class Program;
