namespace EvalPlatform.Web.Reviews;

/// <summary>What the reject dialog answers: the reason's key and the optional detail.</summary>
public sealed record RejectChoice(string Reason, string? Detail);
