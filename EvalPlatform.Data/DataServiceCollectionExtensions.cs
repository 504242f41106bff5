using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Assembly;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Webhooks;
using EvalPlatform.Data.Assembly;
using EvalPlatform.Data.Ingestion;
using EvalPlatform.Data.Notifications;
using EvalPlatform.Data.Postgres;
using EvalPlatform.Data.Providers;
using EvalPlatform.Data.Queries.Analytics;
using EvalPlatform.Data.Queries.Ingestion;
using EvalPlatform.Data.Queries.Teams;
using EvalPlatform.Data.Sqlite;
using EvalPlatform.Data.Webhooks;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EvalPlatform.Data;

public static class DataServiceCollectionExtensions
{
    /// <summary>
    /// PostgreSQL when <c>ConnectionStrings:Postgres</c> is set, else the embedded SQLite file.
    /// Contexts come from a scoped factory so they see the scope's team (request or circuit).
    /// </summary>
    public static IHostApplicationBuilder AddEvalData(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEvalData(builder.Configuration);
        return builder;
    }

    /// <inheritdoc cref="AddEvalData(IHostApplicationBuilder)"/>
    public static IServiceCollection AddEvalData(this IServiceCollection services, IConfiguration configuration)
    {
        var target = ReadTarget(configuration);
        services.AddSingleton(target);
        services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.SectionName);

        if (target.Provider == DatabaseProvider.Postgres)
        {
            services.AddEvalContext<PostgresEvalDbContext>(
                o => o.UseNpgsql(target.ConnectionString, npgsql => npgsql.MigrationsHistoryTable("__ef_migrations_history")),
                (options, team) => new PostgresEvalDbContext(options, team));
            services.AddScoped<ITraceStore, PostgresTraceStore>();
            services.AddSingleton<IStoreErrors, PostgresStoreErrors>();
            services.AddSingleton<ITraceLocks, PostgresTraceLocks>();
            services.AddScoped<IIngestionIssueStore, PostgresIngestionIssueStore>();
            services.AddSingleton<IRawMetrics, PostgresRawMetrics>();
        }
        else
        {
            services.AddEvalContext<SqliteEvalDbContext>(
                o => o.UseSqlite(target.ConnectionString, sqlite => sqlite.MigrationsHistoryTable("__ef_migrations_history")),
                (options, team) => new SqliteEvalDbContext(options, team));
            services.AddScoped<ITraceStore, EfTraceStore>();
            services.AddSingleton<IStoreErrors, SqliteStoreErrors>();
            services.AddSingleton<ITraceLocks, SqliteTraceLocks>();
            services.AddScoped<IIngestionIssueStore, SqliteIngestionIssueStore>();
            services.AddSingleton<IRawMetrics, RawMetrics>();
            // SQLite has one writer at a time anyway; a second group would only wait for the lock.
            // (Registered before the Ingestion section is bound, so configuration still wins.)
            services.Configure<IngestionOptions>(o => o.Writers = 1);
        }

        // The model (and so the migrations) depends on Identity's schema version: Data owns that setting.
        services.Configure<IdentityOptions>(o => o.Stores.SchemaVersion = IdentitySchemaVersions.Version3);
        services.AddScoped<DatabaseMigrator>();
        services.AddScoped<IMemberDirectory, MemberDirectory>();
        services.AddScoped<IMemberEmails, MemberEmails>();
        services.AddScoped<IMemberAccounts, MemberAccounts>();
        services.AddScoped<IMetricsReader, MetricsReader>();
        services.AddDataProtection()
            .SetApplicationName("EvalPlatform")
            .PersistKeysToDbContext<EvalDbContext>();
        services.AddSingleton<IWebhookSecretProtector, DataProtectionWebhookSecretProtector>();
        services.AddSingleton<NotificationCommitInterceptor>();
        services.AddSingleton<INotificationSecretProtector, DataProtectionNotificationSecretProtector>();
        services.AddSingleton<IProviderKeyProtector, DataProtectionProviderKeyProtector>();
        services.AddSingleton<EvalPlatform.Core.LangSmith.Connector.ILangSmithKeyProtector, LangSmith.DataProtectionLangSmithKeyProtector>();
        return services;
    }

    private static void AddEvalContext<TContext>(
        this IServiceCollection services,
        Action<DbContextOptionsBuilder> configure,
        Func<DbContextOptions<TContext>, ITeamContext?, TContext> create)
        where TContext : EvalDbContext
    {
        // Built once (see EvalDbContextFactory); EF resolves logging etc. from the app's services.
        services.AddSingleton(sp =>
        {
            var builder = new DbContextOptionsBuilder<TContext>().UseApplicationServiceProvider(sp);
            configure(builder);
            builder.AddInterceptors(sp.GetRequiredService<NotificationCommitInterceptor>());
            return builder.Options;
        });
        services.AddScoped(sp => new EvalDbContextFactory<TContext>(
            sp.GetRequiredService<DbContextOptions<TContext>>(), sp.GetService<ITeamContext>(), create));
        services.AddScoped<IDbContextFactory<EvalDbContext>>(sp => sp.GetRequiredService<EvalDbContextFactory<TContext>>());
        services.AddScoped<IEvalDbContextFactory>(sp => sp.GetRequiredService<EvalDbContextFactory<TContext>>());
        // Identity's stores and Data Protection want a scoped context; pages and services use the factory.
        services.AddScoped<EvalDbContext>(sp => sp.GetRequiredService<EvalDbContextFactory<TContext>>().CreateDbContext());
        // The scope's unit of work, for code that adds to the caller's change (the notification outbox's EnqueueAsync, the
        // alert evaluation that commits its state change with its notifications).
        services.AddScoped<IEvalDbContext>(sp => sp.GetRequiredService<EvalDbContext>());
    }

    private static DatabaseTarget ReadTarget(IConfiguration configuration)
    {
        var postgres = configuration[DatabaseTarget.PostgresKey];
        if (!string.IsNullOrWhiteSpace(postgres))
        {
            return new DatabaseTarget(DatabaseProvider.Postgres, postgres);
        }

        var sqlite = configuration[DatabaseTarget.SqliteKey];
        var builder = new SqliteConnectionStringBuilder(string.IsNullOrWhiteSpace(sqlite) ? DatabaseTarget.DefaultSqlite : sqlite)
        {
            // Concurrent writers wait for the lock instead of failing at once.
            DefaultTimeout = 30,
        };
        return new DatabaseTarget(DatabaseProvider.Sqlite, builder.ToString());
    }
}
