using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class LangSmithConnector : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "langsmith_connections",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TeamId = table.Column<Guid>(type: "uuid", nullable: false),
                    ApiUrl = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    ProtectedApiKey = table.Column<string>(type: "character varying(4000)", maxLength: 4000, nullable: false),
                    KeyHint = table.Column<string>(type: "character varying(8)", maxLength: 8, nullable: false),
                    WorkspaceId = table.Column<string>(type: "character varying(36)", maxLength: 36, nullable: true),
                    SyncIntervalMinutes = table.Column<int>(type: "integer", nullable: false),
                    PushFeedback = table.Column<bool>(type: "boolean", nullable: false),
                    FeedbackKey = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Paused = table.Column<bool>(type: "boolean", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    CreatedBy = table.Column<string>(type: "character varying(450)", maxLength: 450, nullable: true),
                    NextSyncAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    LastSyncAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    LastError = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: true),
                    FeedbackSent = table.Column<long>(type: "bigint", nullable: false),
                    FeedbackFailed = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_langsmith_connections", x => x.Id);
                    table.ForeignKey(
                        name: "FK_langsmith_connections_teams_TeamId",
                        column: x => x.TeamId,
                        principalTable: "teams",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "langsmith_import_issues",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TeamId = table.Column<Guid>(type: "uuid", nullable: false),
                    ConnectionId = table.Column<Guid>(type: "uuid", nullable: false),
                    ProjectId = table.Column<Guid>(type: "uuid", nullable: true),
                    RunId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    Reason = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    At = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_langsmith_import_issues", x => x.Id);
                    table.ForeignKey(
                        name: "FK_langsmith_import_issues_langsmith_connections_ConnectionId",
                        column: x => x.ConnectionId,
                        principalTable: "langsmith_connections",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_langsmith_import_issues_teams_TeamId",
                        column: x => x.TeamId,
                        principalTable: "teams",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "langsmith_projects",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TeamId = table.Column<Guid>(type: "uuid", nullable: false),
                    ConnectionId = table.Column<Guid>(type: "uuid", nullable: false),
                    ProjectId = table.Column<Guid>(type: "uuid", nullable: false),
                    Name = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: false),
                    StartTime = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    PassActive = table.Column<bool>(type: "boolean", nullable: false),
                    PassFrom = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    Cursor = table.Column<string>(type: "character varying(4000)", maxLength: 4000, nullable: true),
                    PassNewest = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    Newest = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    BackfillDone = table.Column<bool>(type: "boolean", nullable: false),
                    EstimatedRuns = table.Column<long>(type: "bigint", nullable: true),
                    RunsSeen = table.Column<long>(type: "bigint", nullable: false),
                    RunsImported = table.Column<long>(type: "bigint", nullable: false),
                    TracesImported = table.Column<long>(type: "bigint", nullable: false),
                    Errors = table.Column<long>(type: "bigint", nullable: false),
                    LastSyncAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    LastError = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_langsmith_projects", x => x.Id);
                    table.ForeignKey(
                        name: "FK_langsmith_projects_langsmith_connections_ConnectionId",
                        column: x => x.ConnectionId,
                        principalTable: "langsmith_connections",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_langsmith_projects_teams_TeamId",
                        column: x => x.TeamId,
                        principalTable: "teams",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_langsmith_connections_NextSyncAt",
                table: "langsmith_connections",
                column: "NextSyncAt");

            migrationBuilder.CreateIndex(
                name: "IX_langsmith_connections_TeamId_CreatedAt",
                table: "langsmith_connections",
                columns: new[] { "TeamId", "CreatedAt" });

            migrationBuilder.CreateIndex(
                name: "IX_langsmith_import_issues_ConnectionId",
                table: "langsmith_import_issues",
                column: "ConnectionId");

            migrationBuilder.CreateIndex(
                name: "IX_langsmith_import_issues_TeamId_ConnectionId_Id",
                table: "langsmith_import_issues",
                columns: new[] { "TeamId", "ConnectionId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_langsmith_projects_ConnectionId",
                table: "langsmith_projects",
                column: "ConnectionId");

            migrationBuilder.CreateIndex(
                name: "IX_langsmith_projects_TeamId_ConnectionId_ProjectId",
                table: "langsmith_projects",
                columns: new[] { "TeamId", "ConnectionId", "ProjectId" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "langsmith_import_issues");

            migrationBuilder.DropTable(
                name: "langsmith_projects");

            migrationBuilder.DropTable(
                name: "langsmith_connections");
        }
    }
}
