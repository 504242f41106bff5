using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Data.Postgres;

/// <summary>The model on PostgreSQL, with its own migrations under <c>Migrations/Postgres</c>.</summary>
public sealed class PostgresEvalDbContext(DbContextOptions<PostgresEvalDbContext> options, ITeamContext? team = null)
    : EvalDbContext(options, team)
{
    /// <summary>The trigram index the free-text search uses (ADR 50).</summary>
    public const string SearchTextIndex = "IX_traces_SearchText_trgm";

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        // Free-text search is a LIKE '%term%' over the lowercased prompt and response (TraceQueries.Apply). A trigram GIN
        // index answers it without reading every trace; terms under three characters still scan. PostgreSQL only: SQLite
        // has no trigram index and keeps the plain LIKE (ADR 50). pg_trgm is a trusted extension, so the database owner
        // can create it.
        builder.HasPostgresExtension("pg_trgm");
        builder.Entity<Trace>().HasIndex(t => t.SearchText, SearchTextIndex).HasMethod("gin").HasOperators("gin_trgm_ops");
    }
}
