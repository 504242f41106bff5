using EvalPlatform.Core.Playground;

namespace EvalPlatform.Web.Playground;

/// <summary>A message being written on the playground page.</summary>
public sealed class PlaygroundMessageRow
{
    public int Key { get; init; }
    public string Role { get; set; } = "user";
    public string Content { get; set; } = "";
}

/// <summary>A model configuration being edited on the playground page, with its provider's models once discovered.</summary>
public sealed class PlaygroundConfigRow
{
    public int Key { get; init; }
    public Guid? ConnectionId { get; set; }
    public string Model { get; set; } = "";
    public double? Temperature { get; set; }
    public int? MaxTokens { get; set; }

    /// <summary>The models the connection's provider listed, when asked; null until then.</summary>
    public IReadOnlyList<string>? Models { get; set; }

    public string? ModelsError { get; set; }

    /// <summary>The configuration as the service takes it (a row without a connection is refused before).</summary>
    public PlaygroundConfig ToConfig() => new(ConnectionId ?? Guid.Empty, Model, Temperature, MaxTokens);
}

/// <summary>One configuration's column of a run: the text as it arrives, then its result, then the trace it was saved as.</summary>
public sealed class PlaygroundColumnState
{
    public required string Label { get; init; }
    public required string Model { get; init; }
    public System.Text.StringBuilder Text { get; } = new();
    public PlaygroundResult? Result { get; set; }
    public Guid? SavedTraceId { get; set; }
    public bool Running => Result is null;
}
