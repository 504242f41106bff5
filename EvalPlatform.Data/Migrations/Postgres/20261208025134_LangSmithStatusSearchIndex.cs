using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class LangSmithStatusSearchIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AlterDatabase()
                .Annotation("Npgsql:PostgresExtension:pg_trgm", ",,");

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "BackfillResumedAt",
                table: "langsmith_projects",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "BackfillRunsAtResume",
                table: "langsmith_projects",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "ImportDay",
                table: "langsmith_projects",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "RunsImportedToday",
                table: "langsmith_projects",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.CreateIndex(
                name: "IX_traces_SearchText_trgm",
                table: "traces",
                column: "SearchText")
                .Annotation("Npgsql:IndexMethod", "gin")
                .Annotation("Npgsql:IndexOperators", new[] { "gin_trgm_ops" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_traces_SearchText_trgm",
                table: "traces");

            migrationBuilder.DropColumn(
                name: "BackfillResumedAt",
                table: "langsmith_projects");

            migrationBuilder.DropColumn(
                name: "BackfillRunsAtResume",
                table: "langsmith_projects");

            migrationBuilder.DropColumn(
                name: "ImportDay",
                table: "langsmith_projects");

            migrationBuilder.DropColumn(
                name: "RunsImportedToday",
                table: "langsmith_projects");

            migrationBuilder.AlterDatabase()
                .OldAnnotation("Npgsql:PostgresExtension:pg_trgm", ",,");
        }
    }
}
