using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class NotificationFiltersAndRetention : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "TraceFilter",
                table: "notification_channels",
                type: "character varying(4000)",
                maxLength: 4000,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_notification_deliveries_retention",
                table: "notification_deliveries",
                columns: new[] { "Status", "UpdatedAt" });

            migrationBuilder.CreateIndex(
                name: "IX_in_app_notifications_read",
                table: "in_app_notifications",
                column: "ReadAt",
                filter: "\"ReadAt\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_notification_deliveries_retention",
                table: "notification_deliveries");

            migrationBuilder.DropIndex(
                name: "IX_in_app_notifications_read",
                table: "in_app_notifications");

            migrationBuilder.DropColumn(
                name: "TraceFilter",
                table: "notification_channels");
        }
    }
}
