namespace EvalPlatform.Core.Data;

/// <summary>
/// Tells a value the database refused (PostgreSQL's "invalid byte sequence" for a NUL character, "\u0000" in
/// jsonb, a number out of range) from every other failure: storing the same rows again fails again, unlike a lost
/// connection, which fails every request. The writers that store many clients' items in one transaction (the group
/// commit, trace assembly) use it to store the rest apart and refuse only the item at fault (ADR 13).
/// </summary>
public interface IStoreErrors
{
    /// <summary>The database refused a value of the rows themselves (the exception as thrown, wrapped by EF or not).</summary>
    bool IsDataError(Exception e);

    /// <summary>The database's reason, for the client and the ingestion issue log: its words, no stack, no query.</summary>
    string Describe(Exception e);
}
