namespace EvalPlatform.Core.LangSmith.Connector;

/// <summary>Encrypts a LangSmith API key for one team (Data Protection, implemented in Data); a key protected for one team does not open for another.</summary>
public interface ILangSmithKeyProtector
{
    string Protect(Guid teamId, string apiKey);

    string Unprotect(Guid teamId, string protectedApiKey);
}
