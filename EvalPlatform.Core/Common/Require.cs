namespace EvalPlatform.Core.Common;

/// <summary>Input checks shared by the services; each failure names the field.</summary>
public static class Require
{
    /// <summary>A trimmed, non-empty text of at most <paramref name="maxLength"/> characters.</summary>
    public static string Text(string field, string? value, int maxLength)
    {
        var trimmed = value?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            throw new DomainValidationException(field, $"'{field}' is required.");
        }

        if (trimmed.Length > maxLength)
        {
            throw new DomainValidationException(field, $"'{field}' must be at most {maxLength} characters.");
        }

        return trimmed;
    }

    /// <summary>An optional filter value: null when blank, else trimmed and at most <paramref name="maxLength"/> characters (the error names <c>filters.{field}</c>).</summary>
    public static string? Filter(string field, string? value, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        return value.Length > maxLength
            ? throw new DomainValidationException($"filters.{field}", $"At most {maxLength} characters.")
            : value.Trim();
    }
}
