using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Metrics : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "metric_dirty_minutes",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Minute = table.Column<long>(type: "INTEGER", nullable: false),
                    MarkedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_metric_dirty_minutes", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "metric_rollup_state",
                columns: table => new
                {
                    Id = table.Column<int>(type: "INTEGER", nullable: false),
                    Watermark = table.Column<long>(type: "INTEGER", nullable: true),
                    RolledThrough = table.Column<long>(type: "INTEGER", nullable: true),
                    LastRunAt = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_metric_rollup_state", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "metric_rollups",
                columns: table => new
                {
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Interval = table.Column<short>(type: "INTEGER", nullable: false),
                    Bucket = table.Column<long>(type: "INTEGER", nullable: false),
                    Model = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Provider = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Environment = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Experiment = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Variant = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Traces = table.Column<long>(type: "INTEGER", nullable: false),
                    Errors = table.Column<long>(type: "INTEGER", nullable: false),
                    PromptTokens = table.Column<long>(type: "INTEGER", nullable: false),
                    CompletionTokens = table.Column<long>(type: "INTEGER", nullable: false),
                    Cost = table.Column<decimal>(type: "TEXT", precision: 28, scale: 8, nullable: false),
                    CostSquares = table.Column<double>(type: "REAL", nullable: false),
                    Latency = table.Column<string>(type: "TEXT", nullable: false),
                    TimeToFirstToken = table.Column<string>(type: "TEXT", nullable: false),
                    Accepted = table.Column<long>(type: "INTEGER", nullable: false),
                    Rejected = table.Column<long>(type: "INTEGER", nullable: false),
                    NeedsReview = table.Column<long>(type: "INTEGER", nullable: false),
                    RejectionReasons = table.Column<string>(type: "TEXT", nullable: true),
                    HumanScoreSum = table.Column<double>(type: "REAL", nullable: false),
                    HumanScoreCount = table.Column<long>(type: "INTEGER", nullable: false),
                    HumanScoreSquares = table.Column<double>(type: "REAL", nullable: false),
                    Scores = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_metric_rollups", x => new { x.TeamId, x.Interval, x.Bucket, x.Model, x.Provider, x.Environment, x.Experiment, x.Variant });
                });

            migrationBuilder.CreateIndex(
                name: "IX_traces_UpdatedAt",
                table: "traces",
                column: "UpdatedAt");

            migrationBuilder.CreateIndex(
                name: "IX_metric_dirty_minutes_TeamId_Minute",
                table: "metric_dirty_minutes",
                columns: new[] { "TeamId", "Minute" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "metric_dirty_minutes");

            migrationBuilder.DropTable(
                name: "metric_rollup_state");

            migrationBuilder.DropTable(
                name: "metric_rollups");

            migrationBuilder.DropIndex(
                name: "IX_traces_UpdatedAt",
                table: "traces");
        }
    }
}
