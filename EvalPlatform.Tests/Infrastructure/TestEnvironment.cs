namespace EvalPlatform.Tests.Infrastructure;

/// <summary>
/// The real services the tests run against, started by <c>scripts/services.sh</c> (which
/// <c>scripts/test.sh</c> runs). A missing service is a failure with this message, never a skip.
/// </summary>
public static class TestEnvironment
{
    public static string PostgresAdminConnectionString => Require("EVALPLATFORM_TEST_POSTGRES");

    public static string Redis => Require("EVALPLATFORM_TEST_REDIS");

    /// <summary>The first-run token every test host is configured with (<c>Setup:Token</c>).</summary>
    public const string SetupToken = "test-setup-token";

    public static string Chromium => Environment.GetEnvironmentVariable("EVALPLATFORM_TEST_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    private static string Require(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{name} is not set. Run the tests with scripts/test.sh, or start the services with " +
                "'scripts/services.sh start' and 'source /tmp/evalplatform-services/env' first.");
}
