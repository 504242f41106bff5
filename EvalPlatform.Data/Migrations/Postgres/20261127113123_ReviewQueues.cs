using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Postgres
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
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TeamId = table.Column<Guid>(type: "uuid", nullable: false),
                    Name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Instructions = table.Column<string>(type: "character varying(5000)", maxLength: 5000, nullable: true),
                    FilterJson = table.Column<string>(type: "character varying(8000)", maxLength: 8000, nullable: false),
                    SamplePercent = table.Column<int>(type: "integer", nullable: true),
                    RequiredReviews = table.Column<int>(type: "integer", nullable: false),
                    CreatedBy = table.Column<string>(type: "character varying(450)", maxLength: 450, nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
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
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TeamId = table.Column<Guid>(type: "uuid", nullable: false),
                    QueueId = table.Column<Guid>(type: "uuid", nullable: false),
                    TraceId = table.Column<Guid>(type: "uuid", nullable: false),
                    State = table.Column<int>(type: "integer", nullable: false),
                    VerdictCount = table.Column<int>(type: "integer", nullable: false),
                    EnteredAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    DoneAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    Outcome = table.Column<int>(type: "integer", nullable: true),
                    FinalAction = table.Column<int>(type: "integer", nullable: true),
                    FinalReason = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    SettledBy = table.Column<string>(type: "character varying(450)", maxLength: 450, nullable: true)
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
                    QueueId = table.Column<Guid>(type: "uuid", nullable: false),
                    UserId = table.Column<string>(type: "character varying(450)", maxLength: 450, nullable: false),
                    TeamId = table.Column<Guid>(type: "uuid", nullable: false)
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
                    QueueItemId = table.Column<Guid>(type: "uuid", nullable: false),
                    TeamId = table.Column<Guid>(type: "uuid", nullable: false),
                    QueueId = table.Column<Guid>(type: "uuid", nullable: false),
                    UserId = table.Column<string>(type: "character varying(450)", maxLength: 450, nullable: false),
                    ClaimedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ExpiresAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
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
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TeamId = table.Column<Guid>(type: "uuid", nullable: false),
                    QueueId = table.Column<Guid>(type: "uuid", nullable: false),
                    QueueItemId = table.Column<Guid>(type: "uuid", nullable: false),
                    TraceId = table.Column<Guid>(type: "uuid", nullable: false),
                    ReviewerId = table.Column<string>(type: "character varying(450)", maxLength: 450, nullable: false),
                    ReviewerName = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    Action = table.Column<int>(type: "integer", nullable: false),
                    Reason = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    Detail = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: true),
                    Score = table.Column<double>(type: "double precision", nullable: true),
                    Note = table.Column<string>(type: "character varying(10000)", maxLength: 10000, nullable: true),
                    GivenAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
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
