using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Postgres
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
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TeamId = table.Column<Guid>(type: "uuid", nullable: false),
                    Minute = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    MarkedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_metric_dirty_minutes", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "metric_rollup_state",
                columns: table => new
                {
                    Id = table.Column<int>(type: "integer", nullable: false),
                    Watermark = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    RolledThrough = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    LastRunAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_metric_rollup_state", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "metric_rollups",
                columns: table => new
                {
                    TeamId = table.Column<Guid>(type: "uuid", nullable: false),
                    Interval = table.Column<short>(type: "smallint", nullable: false),
                    Bucket = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Model = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Provider = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Environment = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Experiment = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Variant = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Traces = table.Column<long>(type: "bigint", nullable: false),
                    Errors = table.Column<long>(type: "bigint", nullable: false),
                    PromptTokens = table.Column<long>(type: "bigint", nullable: false),
                    CompletionTokens = table.Column<long>(type: "bigint", nullable: false),
                    Cost = table.Column<decimal>(type: "numeric(28,8)", precision: 28, scale: 8, nullable: false),
                    CostSquares = table.Column<double>(type: "double precision", nullable: false),
                    Latency = table.Column<string>(type: "text", nullable: false),
                    TimeToFirstToken = table.Column<string>(type: "text", nullable: false),
                    Accepted = table.Column<long>(type: "bigint", nullable: false),
                    Rejected = table.Column<long>(type: "bigint", nullable: false),
                    NeedsReview = table.Column<long>(type: "bigint", nullable: false),
                    RejectionReasons = table.Column<string>(type: "text", nullable: true),
                    HumanScoreSum = table.Column<double>(type: "double precision", nullable: false),
                    HumanScoreCount = table.Column<long>(type: "bigint", nullable: false),
                    HumanScoreSquares = table.Column<double>(type: "double precision", nullable: false),
                    Scores = table.Column<string>(type: "text", nullable: true)
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
