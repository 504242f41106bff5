using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class AssembledSpans : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "CompletionTokens",
                table: "spans",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "Cost",
                table: "spans",
                type: "TEXT",
                precision: 18,
                scale: 8,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ParentExternalId",
                table: "spans",
                type: "TEXT",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "Placeholder",
                table: "spans",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<int>(
                name: "PromptTokens",
                table: "spans",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Provider",
                table: "spans",
                type: "TEXT",
                maxLength: 200,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "CompletionTokens",
                table: "spans");

            migrationBuilder.DropColumn(
                name: "Cost",
                table: "spans");

            migrationBuilder.DropColumn(
                name: "ParentExternalId",
                table: "spans");

            migrationBuilder.DropColumn(
                name: "Placeholder",
                table: "spans");

            migrationBuilder.DropColumn(
                name: "PromptTokens",
                table: "spans");

            migrationBuilder.DropColumn(
                name: "Provider",
                table: "spans");
        }
    }
}
