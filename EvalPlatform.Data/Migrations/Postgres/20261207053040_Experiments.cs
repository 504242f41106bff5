using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Postgres
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
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TeamId = table.Column<Guid>(type: "uuid", nullable: false),
                    Key = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Hypothesis = table.Column<string>(type: "character varying(4000)", maxLength: 4000, nullable: true),
                    Unit = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Coverage = table.Column<double>(type: "double precision", nullable: false),
                    VariantsJson = table.Column<string>(type: "text", nullable: false),
                    FiltersJson = table.Column<string>(type: "text", nullable: false),
                    PrimaryMetric = table.Column<string>(type: "character varying(220)", maxLength: 220, nullable: false),
                    GuardrailsJson = table.Column<string>(type: "text", nullable: false),
                    MinimumDetectableEffect = table.Column<double>(type: "double precision", nullable: false),
                    SignificanceLevel = table.Column<double>(type: "double precision", nullable: false),
                    Status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Decision = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: true),
                    ShippedVariant = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    DecisionNote = table.Column<string>(type: "character varying(4000)", maxLength: 4000, nullable: true),
                    StartedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    StoppedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    CreatedBy = table.Column<string>(type: "character varying(450)", maxLength: 450, nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Version = table.Column<int>(type: "integer", nullable: false),
                    SignificanceNotified = table.Column<bool>(type: "boolean", nullable: false),
                    SrmNotified = table.Column<bool>(type: "boolean", nullable: false)
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
                    ExperimentId = table.Column<Guid>(type: "uuid", nullable: false),
                    UnitId = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    TeamId = table.Column<Guid>(type: "uuid", nullable: false),
                    Variant = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    AssignedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Exposures = table.Column<long>(type: "bigint", nullable: false),
                    FirstExposedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    LastExposedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
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
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TeamId = table.Column<Guid>(type: "uuid", nullable: false),
                    ExperimentId = table.Column<Guid>(type: "uuid", nullable: false),
                    At = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Sequence = table.Column<int>(type: "integer", nullable: false),
                    Actor = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    Action = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    Detail = table.Column<string>(type: "character varying(4000)", maxLength: 4000, nullable: true)
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
