using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ReviewQueues : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "review_queues",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Instructions = table.Column<string>(type: "TEXT", maxLength: 5000, nullable: true),
                    FilterJson = table.Column<string>(type: "TEXT", maxLength: 8000, nullable: false),
                    SamplePercent = table.Column<int>(type: "INTEGER", nullable: true),
                    RequiredReviews = table.Column<int>(type: "INTEGER", nullable: false),
                    CreatedBy = table.Column<string>(type: "TEXT", maxLength: 450, nullable: true),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_review_queues", x => x.Id);
                    table.ForeignKey(
                        name: "FK_review_queues_teams_TeamId",
                        column: x => x.TeamId,
                        principalTable: "teams",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "queue_items",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    QueueId = table.Column<Guid>(type: "TEXT", nullable: false),
                    TraceId = table.Column<Guid>(type: "TEXT", nullable: false),
                    State = table.Column<int>(type: "INTEGER", nullable: false),
                    VerdictCount = table.Column<int>(type: "INTEGER", nullable: false),
                    EnteredAt = table.Column<long>(type: "INTEGER", nullable: false),
                    DoneAt = table.Column<long>(type: "INTEGER", nullable: true),
                    Outcome = table.Column<int>(type: "INTEGER", nullable: true),
                    FinalAction = table.Column<int>(type: "INTEGER", nullable: true),
                    FinalReason = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    SettledBy = table.Column<string>(type: "TEXT", maxLength: 450, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_queue_items", x => x.Id);
                    table.ForeignKey(
                        name: "FK_queue_items_review_queues_QueueId",
                        column: x => x.QueueId,
                        principalTable: "review_queues",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_queue_items_traces_TraceId",
                        column: x => x.TraceId,
                        principalTable: "traces",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "review_queue_assignees",
                columns: table => new
                {
                    QueueId = table.Column<Guid>(type: "TEXT", nullable: false),
                    UserId = table.Column<string>(type: "TEXT", maxLength: 450, nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_review_queue_assignees", x => new { x.QueueId, x.UserId });
                    table.ForeignKey(
                        name: "FK_review_queue_assignees_review_queues_QueueId",
                        column: x => x.QueueId,
                        principalTable: "review_queues",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "queue_claims",
                columns: table => new
                {
                    QueueItemId = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    QueueId = table.Column<Guid>(type: "TEXT", nullable: false),
                    UserId = table.Column<string>(type: "TEXT", maxLength: 450, nullable: false),
                    ClaimedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    ExpiresAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_queue_claims", x => x.QueueItemId);
                    table.ForeignKey(
                        name: "FK_queue_claims_queue_items_QueueItemId",
                        column: x => x.QueueItemId,
                        principalTable: "queue_items",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "queue_verdicts",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TeamId = table.Column<Guid>(type: "TEXT", nullable: false),
                    QueueId = table.Column<Guid>(type: "TEXT", nullable: false),
                    QueueItemId = table.Column<Guid>(type: "TEXT", nullable: false),
                    TraceId = table.Column<Guid>(type: "TEXT", nullable: false),
                    ReviewerId = table.Column<string>(type: "TEXT", maxLength: 450, nullable: false),
                    ReviewerName = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    Action = table.Column<int>(type: "INTEGER", nullable: false),
                    Reason = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    Detail = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: true),
                    Score = table.Column<double>(type: "REAL", nullable: true),
                    Note = table.Column<string>(type: "TEXT", maxLength: 10000, nullable: true),
                    GivenAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_queue_verdicts", x => x.Id);
                    table.ForeignKey(
                        name: "FK_queue_verdicts_queue_items_QueueItemId",
                        column: x => x.QueueItemId,
                        principalTable: "queue_items",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_queue_claims_TeamId_QueueId_UserId",
                table: "queue_claims",
                columns: new[] { "TeamId", "QueueId", "UserId" });

            migrationBuilder.CreateIndex(
                name: "IX_queue_items_QueueId",
                table: "queue_items",
                column: "QueueId");

            migrationBuilder.CreateIndex(
                name: "IX_queue_items_TeamId_QueueId_State",
                table: "queue_items",
                columns: new[] { "TeamId", "QueueId", "State" });

            migrationBuilder.CreateIndex(
                name: "IX_queue_items_TeamId_QueueId_TraceId",
                table: "queue_items",
                columns: new[] { "TeamId", "QueueId", "TraceId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_queue_items_TraceId",
                table: "queue_items",
                column: "TraceId");

            migrationBuilder.CreateIndex(
                name: "IX_queue_verdicts_QueueItemId_ReviewerId",
                table: "queue_verdicts",
                columns: new[] { "QueueItemId", "ReviewerId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_queue_verdicts_TeamId_QueueId_ReviewerId_GivenAt",
                table: "queue_verdicts",
                columns: new[] { "TeamId", "QueueId", "ReviewerId", "GivenAt" });

            migrationBuilder.CreateIndex(
                name: "IX_review_queue_assignees_TeamId_UserId",
                table: "review_queue_assignees",
                columns: new[] { "TeamId", "UserId" });

            migrationBuilder.CreateIndex(
                name: "IX_review_queues_TeamId_Name",
                table: "review_queues",
                columns: new[] { "TeamId", "Name" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "queue_claims");

            migrationBuilder.DropTable(
                name: "queue_verdicts");

            migrationBuilder.DropTable(
                name: "review_queue_assignees");

            migrationBuilder.DropTable(
                name: "queue_items");

            migrationBuilder.DropTable(
                name: "review_queues");
        }
    }
}
