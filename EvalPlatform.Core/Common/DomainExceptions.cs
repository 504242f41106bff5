namespace EvalPlatform.Core.Common;

/// <summary>A request the domain refuses because of its input; maps to 400 naming the field.</summary>
public sealed class DomainValidationException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}

/// <summary>The actor lacks the permission; maps to 403.</summary>
public sealed class PermissionDeniedException(string message) : Exception(message);

/// <summary>Nothing with that id in the current team; maps to 404 (never says whether another team has it).</summary>
public sealed class NotFoundException(string message) : Exception(message);

/// <summary>The request clashes with what is stored (a duplicate name, say); maps to 409.</summary>
public sealed class ConflictException(string message) : Exception(message);
