namespace EvalPlatform.Core.Teams;

/// <summary>A tenant: everything a team owns carries its id.</summary>
public sealed class Team
{
    public Guid Id { get; set; }
    public required string Name { get; set; }

    /// <summary>Upper-cased <see cref="Name"/>; unique, so names differ in more than case.</summary>
    public required string NormalizedName { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    public static string Normalize(string name) => name.Trim().ToUpperInvariant();
}
