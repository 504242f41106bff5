using Microsoft.JSInterop;
using MudBlazor;

namespace EvalPlatform.Web.Traces;

/// <summary>Copies text to the reader's clipboard and says so (or says why not).</summary>
public sealed class Clipboard(IJSRuntime js, ISnackbar snackbar)
{
    public async Task CopyAsync(string text, string label)
    {
        try
        {
            await js.InvokeVoidAsync("navigator.clipboard.writeText", text);
            snackbar.Add($"Copied {label}", Severity.Success);
        }
        catch (JSException)
        {
            snackbar.Add("The browser refused clipboard access: select the text and copy it.", Severity.Warning);
        }
    }
}
