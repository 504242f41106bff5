using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Reviews : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "HumanScore",
                table: "traces",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ReviewDetail",
                table: "traces",
                type: "TEXT",
                maxLength: 2000,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ReviewNote",
                table: "traces",
                type: "TEXT",
                maxLength: 10000,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ReviewReason",
                table: "traces",
                type: "TEXT",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "ReviewVersion",
                table: "traces",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<long>(
                name: "ReviewedAt",
                table: "traces",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ReviewedBy",
                table: "traces",
                type: "TEXT",
                maxLength: 450,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "rejection_reasons",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Key = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Label = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Description = table.Column<string>(type: "TEXT", maxLength: 500, nullable: true),
                    Position = table.Column<int>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_rejection_reasons", x => x.Id);
                    table.ForeignKey(
                        name: "FK_rejection_reasons_teams_TeamId",
                        column: x => x.TeamId,
                        principalTable: "teams",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "review_history",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    TraceId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Version = table.Column<int>(type: "INTEGER", nullable: false),
                    Action = table.Column<int>(type: "INTEGER", nullable: false),
                    ActorId = table.Column<string>(type: "TEXT", maxLength: 450, nullable: false),
                    ActorName = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    At = table.Column<long>(type: "INTEGER", nullable: false),
                    UndoneVersion = table.Column<int>(type: "INTEGER", nullable: true),
                    FromStatus = table.Column<int>(type: "INTEGER", nullable: false),
                    ToStatus = table.Column<int>(type: "INTEGER", nullable: false),
                    FromReason = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    ToReason = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    FromDetail = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: true),
                    ToDetail = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: true),
                    FromScore = table.Column<double>(type: "REAL", nullable: true),
                    ToScore = table.Column<double>(type: "REAL", nullable: true),
                    FromNote = table.Column<string>(type: "TEXT", maxLength: 10000, nullable: true),
                    ToNote = table.Column<string>(type: "TEXT", maxLength: 10000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_review_history", x => x.Id);
                    table.ForeignKey(
                        name: "FK_review_history_traces_TraceId",
                        column: x => x.TraceId,
                        principalTable: "traces",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "review_settings",
                columns: table => new
                {
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    ScoreScale = table.Column<int>(type: "INTEGER", nullable: false),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_review_settings", x => x.TeamId);
                    table.ForeignKey(
                        name: "FK_review_settings_teams_TeamId",
                        column: x => x.TeamId,
                        principalTable: "teams",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_traces_TeamId_ReviewedBy_SortKey",
                table: "traces",
                columns: new[] { "TeamId", "ReviewedBy", "SortKey" },
                filter: "\"ReviewedBy\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_traces_TeamId_ReviewReason_SortKey",
                table: "traces",
                columns: new[] { "TeamId", "ReviewReason", "SortKey" },
                filter: "\"ReviewReason\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_rejection_reasons_TeamId_Key",
                table: "rejection_reasons",
                columns: new[] { "TeamId", "Key" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_rejection_reasons_TeamId_Position",
                table: "rejection_reasons",
                columns: new[] { "TeamId", "Position" });

            migrationBuilder.CreateIndex(
                name: "IX_review_history_TeamId_TraceId_Version",
                table: "review_history",
                columns: new[] { "TeamId", "TraceId", "Version" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_review_history_TraceId",
                table: "review_history",
                column: "TraceId");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "rejection_reasons");

            migrationBuilder.DropTable(
                name: "review_history");

            migrationBuilder.DropTable(
                name: "review_settings");

            migrationBuilder.DropIndex(
                name: "IX_traces_TeamId_ReviewedBy_SortKey",
                table: "traces");

            migrationBuilder.DropIndex(
                name: "IX_traces_TeamId_ReviewReason_SortKey",
                table: "traces");

            migrationBuilder.DropColumn(
                name: "HumanScore",
                table: "traces");

            migrationBuilder.DropColumn(
                name: "ReviewDetail",
                table: "traces");

            migrationBuilder.DropColumn(
                name: "ReviewNote",
                table: "traces");

            migrationBuilder.DropColumn(
                name: "ReviewReason",
                table: "traces");

            migrationBuilder.DropColumn(
                name: "ReviewVersion",
                table: "traces");

            migrationBuilder.DropColumn(
                name: "ReviewedAt",
                table: "traces");

            migrationBuilder.DropColumn(
                name: "ReviewedBy",
                table: "traces");
        }
    }
}
