using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class SpanExternalIdIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "IX_spans_TeamId_ExternalId",
                table: "spans",
                columns: new[] { "TeamId", "ExternalId" },
                filter: "\"ExternalId\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_spans_TeamId_ExternalId",
                table: "spans");
        }
    }
}
