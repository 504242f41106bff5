using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Alerts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "alert_rules",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Metric = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    MetricKey = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    FiltersJson = table.Column<string>(type: "TEXT", maxLength: 4000, nullable: false),
                    WindowMinutes = table.Column<int>(type: "INTEGER", nullable: false),
                    ConditionOp = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    ConditionValue = table.Column<double>(type: "REAL", nullable: false),
                    ForEvaluations = table.Column<int>(type: "INTEGER", nullable: false),
                    MinSamples = table.Column<int>(type: "INTEGER", nullable: false),
                    CooldownMinutes = table.Column<int>(type: "INTEGER", nullable: false),
                    GroupBy = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    Severity = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    ChannelIds = table.Column<string>(type: "TEXT", nullable: false),
                    Enabled = table.Column<bool>(type: "INTEGER", nullable: false),
                    CreatedBy = table.Column<string>(type: "TEXT", maxLength: 450, nullable: true),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_alert_rules", x => x.Id);
                    table.ForeignKey(
                        name: "FK_alert_rules_teams_TeamId",
                        column: x => x.TeamId,
                        principalTable: "teams",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "alert_evaluations",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    RuleId = table.Column<Guid>(type: "TEXT", nullable: false),
                    GroupKey = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    EvaluatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    WindowFrom = table.Column<long>(type: "INTEGER", nullable: false),
                    WindowTo = table.Column<long>(type: "INTEGER", nullable: false),
                    Value = table.Column<double>(type: "REAL", nullable: true),
                    Samples = table.Column<long>(type: "INTEGER", nullable: false),
                    Threshold = table.Column<double>(type: "REAL", nullable: true),
                    Baseline = table.Column<double>(type: "REAL", nullable: true),
                    Decision = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_alert_evaluations", x => x.Id);
                    table.ForeignKey(
                        name: "FK_alert_evaluations_alert_rules_RuleId",
                        column: x => x.RuleId,
                        principalTable: "alert_rules",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "alert_events",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    RuleId = table.Column<Guid>(type: "TEXT", nullable: false),
                    RuleName = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    GroupKey = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    At = table.Column<long>(type: "INTEGER", nullable: false),
                    FromStatus = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    ToStatus = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    Value = table.Column<double>(type: "REAL", nullable: true),
                    Samples = table.Column<long>(type: "INTEGER", nullable: false),
                    Threshold = table.Column<double>(type: "REAL", nullable: true),
                    WindowFrom = table.Column<long>(type: "INTEGER", nullable: false),
                    WindowTo = table.Column<long>(type: "INTEGER", nullable: false),
                    Message = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: false),
                    Actor = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_alert_events", x => x.Id);
                    table.ForeignKey(
                        name: "FK_alert_events_alert_rules_RuleId",
                        column: x => x.RuleId,
                        principalTable: "alert_rules",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "alert_states",
                columns: table => new
                {
                    RuleId = table.Column<Guid>(type: "TEXT", nullable: false),
                    GroupKey = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    Since = table.Column<long>(type: "INTEGER", nullable: false),
                    BreachCount = table.Column<int>(type: "INTEGER", nullable: false),
                    LastEvaluatedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    LastValue = table.Column<double>(type: "REAL", nullable: true),
                    LastSamples = table.Column<long>(type: "INTEGER", nullable: false),
                    LastFiredAt = table.Column<long>(type: "INTEGER", nullable: true),
                    FiringNotified = table.Column<bool>(type: "INTEGER", nullable: false),
                    AcknowledgedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    AcknowledgedBy = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true),
                    SnoozedUntil = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_alert_states", x => new { x.RuleId, x.GroupKey });
                    table.ForeignKey(
                        name: "FK_alert_states_alert_rules_RuleId",
                        column: x => x.RuleId,
                        principalTable: "alert_rules",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_alert_evaluations_EvaluatedAt",
                table: "alert_evaluations",
                column: "EvaluatedAt");

            migrationBuilder.CreateIndex(
                name: "IX_alert_evaluations_RuleId",
                table: "alert_evaluations",
                column: "RuleId");

            migrationBuilder.CreateIndex(
                name: "IX_alert_evaluations_TeamId_RuleId_EvaluatedAt",
                table: "alert_evaluations",
                columns: new[] { "TeamId", "RuleId", "EvaluatedAt" });

            migrationBuilder.CreateIndex(
                name: "IX_alert_events_RuleId",
                table: "alert_events",
                column: "RuleId");

            migrationBuilder.CreateIndex(
                name: "IX_alert_events_TeamId_At",
                table: "alert_events",
                columns: new[] { "TeamId", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_alert_events_TeamId_RuleId_At",
                table: "alert_events",
                columns: new[] { "TeamId", "RuleId", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_alert_rules_TeamId_Name",
                table: "alert_rules",
                columns: new[] { "TeamId", "Name" });

            migrationBuilder.CreateIndex(
                name: "IX_alert_states_TeamId_Status",
                table: "alert_states",
                columns: new[] { "TeamId", "Status" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "alert_evaluations");

            migrationBuilder.DropTable(
                name: "alert_events");

            migrationBuilder.DropTable(
                name: "alert_states");

            migrationBuilder.DropTable(
                name: "alert_rules");
        }
    }
}
