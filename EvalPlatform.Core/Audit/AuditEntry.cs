using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Audit;

/// <summary>
/// One line of a team's audit log: who did what to what, when. Append-only: the context refuses to change or delete
/// a stored entry (ADR 0034).
/// </summary>
public sealed class AuditEntry : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public DateTimeOffset At { get; set; }

    /// <summary>A member's e-mail, "API key 'name'", or the operator's command line, as it read when it acted.</summary>
    public required string Actor { get; set; }

    /// <summary>The user id or API key id that acted, when one did.</summary>
    public string? ActorId { get; set; }

    /// <summary>One of <see cref="AuditActions"/>: <c>api_key.created</c>, <c>member.role_changed</c>, …</summary>
    public required string Action { get; set; }

    /// <summary>What was acted on, in words a person recognises (a key's name, a member's e-mail, a queue's name).</summary>
    public string? Target { get; set; }

    /// <summary>Further facts as a JSON object of strings (scopes granted, the old and new role, the filter of an export).</summary>
    public string? Details { get; set; }
}

/// <summary>The actions the audit log records: <c>subject.verb</c>, past tense.</summary>
public static class AuditActions
{
    public const string SignedIn = "auth.signed_in";
    public const string SignInFailed = "auth.sign_in_failed";
    public const string LockedOut = "auth.locked_out";
    public const string ApiKeyCreated = "api_key.created";
    public const string ApiKeyRevoked = "api_key.revoked";
    public const string WebhookSecretCreated = "webhook_secret.created";
    public const string WebhookSecretRotated = "webhook_secret.rotated";
    public const string WebhookSecretExpired = "webhook_secret.expired";
    public const string ChannelCreated = "channel.created";
    public const string EvaluatorCreated = "evaluator.created";
    public const string EvaluatorUpdated = "evaluator.updated";
    public const string EvaluatorDeleted = "evaluator.deleted";
    public const string ChannelUpdated = "channel.updated";
    public const string ChannelDeleted = "channel.deleted";
    public const string QueueCreated = "queue.created";
    public const string QueueUpdated = "queue.updated";
    public const string QueueDeleted = "queue.deleted";
    public const string ScoreScaleChanged = "settings.score_scale_changed";
    public const string RejectionReasonAdded = "settings.rejection_reason_added";
    public const string RejectionReasonChanged = "settings.rejection_reason_changed";
    public const string RejectionReasonRemoved = "settings.rejection_reason_removed";
    public const string IngestionOriginsChanged = "settings.ingestion_origins_changed";
    public const string TracesExported = "traces.exported";
    public const string MemberInvited = "member.invited";
    public const string InvitationResent = "member.invitation_resent";
    public const string InvitationRevoked = "member.invitation_revoked";
    public const string MemberJoined = "member.joined";
    public const string MemberRemoved = "member.removed";
    public const string MemberRoleChanged = "member.role_changed";
    public const string OwnershipTransferred = "team.ownership_transferred";
    public const string ProviderCreated = "provider.created";
    public const string ProviderDeleted = "provider.deleted";
    public const string ProviderPricesChanged = "provider.prices_changed";
    public const string ProviderBudgetsChanged = "provider.budgets_changed";
    public const string LangSmithConnected = "langsmith.connected";
    public const string LangSmithChanged = "langsmith.changed";
    public const string LangSmithDeleted = "langsmith.deleted";
    public const string LangSmithPaused = "langsmith.paused";
    public const string LangSmithResumed = "langsmith.resumed";
    public const string RetentionChanged = "team.retention_changed";
}
