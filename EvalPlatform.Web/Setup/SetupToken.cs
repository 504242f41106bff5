using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Web.Setup;

/// <summary>The <c>Setup</c> section.</summary>
public sealed class SetupOptions
{
    public const string SectionName = "Setup";

    /// <summary>
    /// The one-time token the first-run page asks for. Empty: each node makes its own at start and prints it to
    /// its log. Several nodes behind one address should be given the same token here (or an environment variable,
    /// <c>Setup__Token</c>), so the page accepts it whichever node answers.
    /// </summary>
    public string? Token { get; set; }
}

/// <summary>
/// Proof that whoever completes the first run can read the server's log or configuration: without it, the first
/// visitor of a fresh instance reachable from a network would become its Owner (ADR 35).
/// </summary>
public sealed class SetupToken
{
    public SetupToken(IOptions<SetupOptions> options)
    {
        FromConfiguration = !string.IsNullOrWhiteSpace(options.Value.Token);
        Value = FromConfiguration ? options.Value.Token!.Trim() : Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
    }

    /// <summary>The token (never shown by the app but in its own log at start, when it made it).</summary>
    public string Value { get; }

    /// <summary>The token came from <c>Setup:Token</c>, so the log does not repeat it.</summary>
    public bool FromConfiguration { get; }

    /// <summary>Compares in constant time; surrounding spaces (from a copy out of a log) do not count.</summary>
    public bool Matches(string? offered) =>
        offered is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(offered.Trim()), Encoding.UTF8.GetBytes(Value));

    /// <summary>Once the app has started and while nobody has set it up, says in the log where the token is.</summary>
    public static void Announce(WebApplication app)
    {
        app.Lifetime.ApplicationStarted.Register(() => _ = Task.Run(async () =>
        {
            try
            {
                if (await app.Services.GetRequiredService<SetupState>().IsCompleteAsync())
                {
                    return;
                }

                var token = app.Services.GetRequiredService<SetupToken>();
                if (token.FromConfiguration)
                {
                    app.Logger.LogWarning("First run: open /setup and enter the set-up token from the Setup:Token setting.");
                }
                else
                {
                    app.Logger.LogWarning("First run: open /setup and enter this set-up token: {SetupToken} (valid until this process stops; set Setup:Token to choose one)", token.Value);
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                app.Logger.LogError(e, "Could not tell whether EvalPlatform is set up; the first-run token is not shown");
            }
        }));
    }
}
