using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Data.Postgres;

/// <summary>The model on PostgreSQL, with its own migrations under <c>Migrations/Postgres</c>.</summary>
public sealed class PostgresEvalDbContext(DbContextOptions<PostgresEvalDbContext> options, ITeamContext? team = null)
    : EvalDbContext(options, team);
