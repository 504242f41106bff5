using System.Text;
using EvalPlatform.Core.Teams;

namespace EvalPlatform.Tests.Unit.Teams;

/// <summary>docs/security.md's permission table is the one in <see cref="TeamPermissions"/>: it cannot drift.</summary>
public sealed class PermissionsDocTests
{
    private const string Begin = "<!-- permissions-table:begin (generated from TeamPermissions; PermissionsDocTests checks it) -->";
    private const string End = "<!-- permissions-table:end -->";

    /// <summary>The table as Markdown: a row per permission; a column per role, per key scope, and for webhooks and jobs.</summary>
    public static string Render()
    {
        var roles = new[] { TeamRole.Viewer, TeamRole.Reviewer, TeamRole.Admin, TeamRole.Owner };
        var scopes = new[] { ApiKeyScopes.Ingest, ApiKeyScopes.Read, ApiKeyScopes.Review, ApiKeyScopes.Admin };
        var text = new StringBuilder();
        text.Append("| Permission | ").AppendJoin(" | ", roles.Select(r => TeamRoleText.Format(r)))
            .Append(" | ").AppendJoin(" | ", scopes.Select(s => $"`{ApiKeyScopesText.Format(s)}` key")).Append(" | signed webhook | job |\n");
        text.Append("|---|").Append(string.Concat(Enumerable.Repeat(":-:|", roles.Length + scopes.Length + 2))).Append('\n');
        foreach (var permission in Enum.GetValues<Permission>())
        {
            var cells = roles.Select(r => TeamPermissions.RoleHas(r, permission))
                .Concat(scopes.Select(s => TeamPermissions.ScopesHave(s, permission)))
                .Append(TeamPermissions.WebhookHas(permission))
                .Append(TeamPermissions.JobHas(permission));
            text.Append("| ").Append(permission).Append(" | ").AppendJoin(" | ", cells.Select(c => c ? "✓" : "")).Append(" |\n");
        }

        return text.ToString();
    }

    [Fact]
    public void SecurityDoc_HoldsThePermissionTable_AsTeamPermissionsHasIt()
    {
        var path = FindDoc();
        var doc = File.ReadAllText(path).ReplaceLineEndings("\n");
        var start = doc.IndexOf(Begin, StringComparison.Ordinal);
        var end = doc.IndexOf(End, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, $"{path} has no generated permissions table between its markers");
        var inDoc = doc[(start + Begin.Length)..end].Trim('\n') + "\n";
        Assert.True(inDoc == Render(), "docs/security.md's permission table differs from TeamPermissions; replace it with:\n" + Render());
    }

    private static string FindDoc()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "docs", "security.md");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"No docs/security.md above {AppContext.BaseDirectory}: run the tests from the repository's build output.");
    }
}
