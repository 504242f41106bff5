namespace EvalPlatform.Core.Teams;

/// <summary>Everything a member or a key can be allowed to do in a team.</summary>
public enum Permission
{
    ViewTraces,
    IngestTraces,
    ReviewTraces,
    ManageApiKeys,
    ManageTeam,

    /// <summary>See the background jobs (Settings → Jobs) and run one now. Platform-wide: any team's Admin or Owner.</summary>
    ManageJobs,

    /// <summary>Add, edit and delete notification channels, send test messages, redeliver (Admins, Owners, <c>admin</c> keys).</summary>
    ManageNotifications,

    /// <summary>Create, change and delete the team's alert rules; acknowledge and snooze its alerts.</summary>
    ManageAlerts,

    /// <summary>Create and change the team's experiments, start, pause and stop them (Admins, Owners, <c>admin</c> keys).</summary>
    ManageExperiments,

    /// <summary>Read the team's audit log (Admins, Owners, <c>admin</c> keys).</summary>
    ViewAuditLog,

    /// <summary>See who is in the team with their roles, invite people, change roles and remove members (Admins, Owners, <c>admin</c> keys).</summary>
    ManageMembers,

    /// <summary>Add, test and delete the team's provider connections and edit its model prices (Admins, Owners, <c>admin</c> keys).</summary>
    ManageProviders,

    /// <summary>Connect, change, sync and delete the team's integrations such as LangSmith (Admins, Owners, <c>admin</c> keys).</summary>
    ManageIntegrations,

    /// <summary>
    /// Run prompts in the playground with the team's provider connections (spending on its accounts), save the results as
    /// traces and send them to a review queue (Reviewers, Admins, Owners, <c>admin</c> keys).
    /// </summary>
    UsePlayground,

    /// <summary>Create, change, delete and run the team's LLM judges (evaluators) (Admins, Owners, <c>admin</c> keys). Reading them needs ViewTraces.</summary>
    ManageEvaluators,

    /// <summary>Change and delete the team's shared saved views that others made (Admins, Owners, <c>admin</c> keys). Anyone who reads traces keeps views of their own.</summary>
    ManageSharedViews,
}
