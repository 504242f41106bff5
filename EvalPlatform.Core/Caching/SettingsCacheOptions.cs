namespace EvalPlatform.Core.Caching;

/// <summary>
/// The caches of what is read on every request (<see cref="SettingsCache"/> and the API-key cache). On by default; off, every
/// read goes to the database (counted as a miss): to rule the caches out while looking for a fault, and for the settings
/// cache bench's "off" side (<c>bench/run.sh --settings-cache</c>).
/// </summary>
public sealed class SettingsCacheOptions
{
    public const string SectionName = "SettingsCache";

    public bool Enabled { get; set; } = true;
}
