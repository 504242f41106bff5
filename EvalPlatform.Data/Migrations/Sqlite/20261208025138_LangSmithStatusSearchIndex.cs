using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class LangSmithStatusSearchIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "BackfillResumedAt",
                table: "langsmith_projects",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "BackfillRunsAtResume",
                table: "langsmith_projects",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "ImportDay",
                table: "langsmith_projects",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "RunsImportedToday",
                table: "langsmith_projects",
                type: "INTEGER",
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
