using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class EmailNotifications : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AlterColumn<Guid>(
                name: "ChannelId",
                table: "notification_deliveries",
                type: "TEXT",
                nullable: true,
                oldClrType: typeof(Guid),
                oldType: "TEXT");

            migrationBuilder.AddColumn<string>(
                name: "RecipientEmail",
                table: "notification_deliveries",
                type: "TEXT",
                maxLength: 320,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "RecipientUserId",
                table: "notification_deliveries",
                type: "TEXT",
                maxLength: 450,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_notification_deliveries_recipient",
                table: "notification_deliveries",
                columns: new[] { "TeamId", "RecipientUserId", "Id" },
                filter: "\"RecipientUserId\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_notification_deliveries_recipient",
                table: "notification_deliveries");

            migrationBuilder.DropColumn(
                name: "RecipientEmail",
                table: "notification_deliveries");

            migrationBuilder.DropColumn(
                name: "RecipientUserId",
                table: "notification_deliveries");

            migrationBuilder.AlterColumn<Guid>(
                name: "ChannelId",
                table: "notification_deliveries",
                type: "TEXT",
                nullable: false,
                defaultValue: new Guid("00000000-0000-0000-0000-000000000000"),
                oldClrType: typeof(Guid),
                oldType: "TEXT",
                oldNullable: true);
        }
    }
}
