using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Experiments : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "experiments",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Key = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Hypothesis = table.Column<string>(type: "TEXT", maxLength: 4000, nullable: true),
                    Unit = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    Coverage = table.Column<double>(type: "REAL", nullable: false),
                    VariantsJson = table.Column<string>(type: "TEXT", nullable: false),
                    FiltersJson = table.Column<string>(type: "TEXT", nullable: false),
                    PrimaryMetric = table.Column<string>(type: "TEXT", maxLength: 220, nullable: false),
                    GuardrailsJson = table.Column<string>(type: "TEXT", nullable: false),
                    MinimumDetectableEffect = table.Column<double>(type: "REAL", nullable: false),
                    SignificanceLevel = table.Column<double>(type: "REAL", nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    Decision = table.Column<string>(type: "TEXT", maxLength: 20, nullable: true),
                    ShippedVariant = table.Column<string>(type: "TEXT", maxLength: 100, nullable: true),
                    DecisionNote = table.Column<string>(type: "TEXT", maxLength: 4000, nullable: true),
                    StartedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    StoppedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    CreatedBy = table.Column<string>(type: "TEXT", maxLength: 450, nullable: true),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    Version = table.Column<int>(type: "INTEGER", nullable: false),
                    SignificanceNotified = table.Column<bool>(type: "INTEGER", nullable: false),
                    SrmNotified = table.Column<bool>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_experiments", x => x.Id);
                    table.ForeignKey(
                        name: "FK_experiments_teams_TeamId",
                        column: x => x.TeamId,
                        principalTable: "teams",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "experiment_assignments",
                columns: table => new
                {
                    ExperimentId = table.Column<Guid>(type: "TEXT", nullable: false),
                    UnitId = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Variant = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    AssignedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    Exposures = table.Column<long>(type: "INTEGER", nullable: false),
                    FirstExposedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    LastExposedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_experiment_assignments", x => new { x.ExperimentId, x.UnitId });
                    table.ForeignKey(
                        name: "FK_experiment_assignments_experiments_ExperimentId",
                        column: x => x.ExperimentId,
                        principalTable: "experiments",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "experiment_changes",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    ExperimentId = table.Column<Guid>(type: "TEXT", nullable: false),
                    At = table.Column<long>(type: "INTEGER", nullable: false),
                    Sequence = table.Column<int>(type: "INTEGER", nullable: false),
                    Actor = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    Action = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    Detail = table.Column<string>(type: "TEXT", maxLength: 4000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_experiment_changes", x => x.Id);
                    table.ForeignKey(
                        name: "FK_experiment_changes_experiments_ExperimentId",
                        column: x => x.ExperimentId,
                        principalTable: "experiments",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_experiment_assignments_TeamId_ExperimentId_Variant",
                table: "experiment_assignments",
                columns: new[] { "TeamId", "ExperimentId", "Variant" });

            migrationBuilder.CreateIndex(
                name: "IX_experiment_changes_ExperimentId",
                table: "experiment_changes",
                column: "ExperimentId");

            migrationBuilder.CreateIndex(
                name: "IX_experiment_changes_TeamId_ExperimentId_Sequence",
                table: "experiment_changes",
                columns: new[] { "TeamId", "ExperimentId", "Sequence" });

            migrationBuilder.CreateIndex(
                name: "IX_experiments_Status",
                table: "experiments",
                column: "Status");

            migrationBuilder.CreateIndex(
                name: "IX_experiments_TeamId_Key",
                table: "experiments",
                columns: new[] { "TeamId", "Key" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "experiment_assignments");

            migrationBuilder.DropTable(
                name: "experiment_changes");

            migrationBuilder.DropTable(
                name: "experiments");
        }
    }
}
