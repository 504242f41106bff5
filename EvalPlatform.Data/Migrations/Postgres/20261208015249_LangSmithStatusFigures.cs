using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class LangSmithStatusFigures : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
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
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
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
        }
    }
}
