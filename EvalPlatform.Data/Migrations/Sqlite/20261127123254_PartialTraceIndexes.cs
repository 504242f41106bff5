using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class PartialTraceIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_traces_TeamId_ReviewStatus_SortKey",
                table: "traces");

            migrationBuilder.DropIndex(
                name: "IX_traces_TeamId_SessionId",
                table: "traces");

            migrationBuilder.CreateIndex(
                name: "IX_traces_TeamId_ReviewStatus_SortKey",
                table: "traces",
                columns: new[] { "TeamId", "ReviewStatus", "SortKey" },
                filter: "\"ReviewStatus\" <> 0");

            migrationBuilder.CreateIndex(
                name: "IX_traces_TeamId_SessionId",
                table: "traces",
                columns: new[] { "TeamId", "SessionId" },
                filter: "\"SessionId\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_traces_TeamId_ReviewStatus_SortKey",
                table: "traces");

            migrationBuilder.DropIndex(
                name: "IX_traces_TeamId_SessionId",
                table: "traces");

            migrationBuilder.CreateIndex(
                name: "IX_traces_TeamId_ReviewStatus_SortKey",
                table: "traces",
                columns: new[] { "TeamId", "ReviewStatus", "SortKey" });

            migrationBuilder.CreateIndex(
                name: "IX_traces_TeamId_SessionId",
                table: "traces",
                columns: new[] { "TeamId", "SessionId" });
        }
    }
}
