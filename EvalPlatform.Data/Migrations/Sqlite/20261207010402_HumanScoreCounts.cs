using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EvalPlatform.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class HumanScoreCounts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "HumanScoreCounts",
                table: "metric_rollups",
                type: "TEXT",
                nullable: true);

            // Rows rolled up before this column have no score counts: forget the watermark, so the next run marks every
            // minute with traces dirty and recomputes it (reads take those minutes raw meanwhile).
            migrationBuilder.Sql("UPDATE metric_rollup_state SET \"Watermark\" = NULL;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "HumanScoreCounts",
                table: "metric_rollups");
        }
    }
}
