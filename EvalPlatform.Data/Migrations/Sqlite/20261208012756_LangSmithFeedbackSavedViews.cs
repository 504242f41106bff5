using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class LangSmithFeedbackSavedViews : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "FeedbackFailed",
                table: "langsmith_connections");

            migrationBuilder.DropColumn(
                name: "FeedbackSent",
                table: "langsmith_connections");

            migrationBuilder.AddColumn<Guid>(
                name: "LangSmithConnectionId",
                table: "notification_deliveries",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "FeedbackCheckedAt",
                table: "langsmith_projects",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "langsmith_feedback",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    ConnectionId = table.Column<Guid>(type: "TEXT", nullable: false),
                    TraceId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Key = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    RunId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Version = table.Column<int>(type: "INTEGER", nullable: false),
                    SentVersion = table.Column<int>(type: "INTEGER", nullable: false),
                    Created = table.Column<bool>(type: "INTEGER", nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 12, nullable: false),
                    LastError = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    SentAt = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_langsmith_feedback", x => x.Id);
                    table.ForeignKey(
                        name: "FK_langsmith_feedback_langsmith_connections_ConnectionId",
                        column: x => x.ConnectionId,
                        principalTable: "langsmith_connections",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_langsmith_feedback_teams_TeamId",
                        column: x => x.TeamId,
                        principalTable: "teams",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_langsmith_feedback_traces_TraceId",
                        column: x => x.TraceId,
                        principalTable: "traces",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "saved_views",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    OwnerId = table.Column<string>(type: "TEXT", maxLength: 450, nullable: false),
                    Shared = table.Column<bool>(type: "INTEGER", nullable: false),
                    FilterJson = table.Column<string>(type: "TEXT", maxLength: 8000, nullable: false),
                    Columns = table.Column<string>(type: "TEXT", maxLength: 400, nullable: true),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_saved_views", x => x.Id);
                    table.ForeignKey(
                        name: "FK_saved_views_teams_TeamId",
                        column: x => x.TeamId,
                        principalTable: "teams",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "trace_list_layouts",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    OwnerId = table.Column<string>(type: "TEXT", maxLength: 450, nullable: false),
                    Columns = table.Column<string>(type: "TEXT", maxLength: 400, nullable: false),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_trace_list_layouts", x => x.Id);
                    table.ForeignKey(
                        name: "FK_trace_list_layouts_teams_TeamId",
                        column: x => x.TeamId,
                        principalTable: "teams",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_notification_deliveries_langsmith",
                table: "notification_deliveries",
                columns: new[] { "TeamId", "LangSmithConnectionId", "EventId" },
                filter: "\"LangSmithConnectionId\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_notification_deliveries_LangSmithConnectionId",
                table: "notification_deliveries",
                column: "LangSmithConnectionId");

            migrationBuilder.CreateIndex(
                name: "IX_langsmith_feedback_ConnectionId",
                table: "langsmith_feedback",
                column: "ConnectionId");

            migrationBuilder.CreateIndex(
                name: "IX_langsmith_feedback_TeamId_ConnectionId_Status",
                table: "langsmith_feedback",
                columns: new[] { "TeamId", "ConnectionId", "Status" });

            migrationBuilder.CreateIndex(
                name: "IX_langsmith_feedback_TeamId_TraceId_ConnectionId_Key",
                table: "langsmith_feedback",
                columns: new[] { "TeamId", "TraceId", "ConnectionId", "Key" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_langsmith_feedback_TraceId",
                table: "langsmith_feedback",
                column: "TraceId");

            migrationBuilder.CreateIndex(
                name: "IX_saved_views_TeamId_OwnerId",
                table: "saved_views",
                columns: new[] { "TeamId", "OwnerId" });

            migrationBuilder.CreateIndex(
                name: "IX_saved_views_TeamId_Shared",
                table: "saved_views",
                columns: new[] { "TeamId", "Shared" });

            migrationBuilder.CreateIndex(
                name: "IX_trace_list_layouts_TeamId_OwnerId",
                table: "trace_list_layouts",
                columns: new[] { "TeamId", "OwnerId" },
                unique: true);

            migrationBuilder.AddForeignKey(
                name: "FK_notification_deliveries_langsmith_connections_LangSmithConnectionId",
                table: "notification_deliveries",
                column: "LangSmithConnectionId",
                principalTable: "langsmith_connections",
                principalColumn: "Id",
                onDelete: ReferentialAction.Cascade);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "FK_notification_deliveries_langsmith_connections_LangSmithConnectionId",
                table: "notification_deliveries");

            migrationBuilder.DropTable(
                name: "langsmith_feedback");

            migrationBuilder.DropTable(
                name: "saved_views");

            migrationBuilder.DropTable(
                name: "trace_list_layouts");

            migrationBuilder.DropIndex(
                name: "IX_notification_deliveries_langsmith",
                table: "notification_deliveries");

            migrationBuilder.DropIndex(
                name: "IX_notification_deliveries_LangSmithConnectionId",
                table: "notification_deliveries");

            migrationBuilder.DropColumn(
                name: "LangSmithConnectionId",
                table: "notification_deliveries");

            migrationBuilder.DropColumn(
                name: "FeedbackCheckedAt",
                table: "langsmith_projects");

            migrationBuilder.AddColumn<long>(
                name: "FeedbackFailed",
                table: "langsmith_connections",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "FeedbackSent",
                table: "langsmith_connections",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);
        }
    }
}
