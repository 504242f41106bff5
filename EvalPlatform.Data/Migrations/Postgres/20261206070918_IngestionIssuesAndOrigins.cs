using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class IngestionIssuesAndOrigins : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<List<string>>(
                name: "IngestionOrigins",
                table: "teams",
                type: "text[]",
                nullable: false,
                defaultValueSql: "'{}'::text[]");

            migrationBuilder.CreateTable(
                name: "ingestion_issues",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TeamId = table.Column<Guid>(type: "uuid", nullable: false),
                    Hour = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Door = table.Column<int>(type: "integer", nullable: false),
                    Kind = table.Column<int>(type: "integer", nullable: false),
                    Field = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Reason = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false),
                    TraceKey = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    SpanKey = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    GroupKey = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Count = table.Column<int>(type: "integer", nullable: false),
                    FirstSeenAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    LastSeenAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ingestion_issues", x => x.Id);
                    table.ForeignKey(
                        name: "FK_ingestion_issues_teams_TeamId",
                        column: x => x.TeamId,
                        principalTable: "teams",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_ingestion_issues_TeamId_Hour_GroupKey",
                table: "ingestion_issues",
                columns: new[] { "TeamId", "Hour", "GroupKey" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_ingestion_issues_TeamId_LastSeenAt",
                table: "ingestion_issues",
                columns: new[] { "TeamId", "LastSeenAt" });

            migrationBuilder.CreateIndex(
                name: "IX_ingestion_issues_TeamId_TraceKey",
                table: "ingestion_issues",
                columns: new[] { "TeamId", "TraceKey" },
                filter: "\"TraceKey\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "ingestion_issues");

            migrationBuilder.DropColumn(
                name: "IngestionOrigins",
                table: "teams");
        }
    }
}
