using MudBlazor;

namespace EvalPlatform.Web.Components.Layout;

/// <summary>The app's colours, light and dark. System fonts only: there is no font CDN at run time.</summary>
public static class EvalTheme
{
    public static readonly MudTheme Theme = new()
    {
        PaletteLight = new PaletteLight
        {
            Primary = "#4338ca",
            Secondary = "#0f766e",
            AppbarBackground = "#1e1b4b",
            Success = "#15803d",
            Error = "#b91c1c",
            Warning = "#b45309",
        },
        PaletteDark = new PaletteDark
        {
            Primary = "#a5b4fc",
            Secondary = "#5eead4",
            AppbarBackground = "#111827",
            Success = "#4ade80",
            Error = "#f87171",
            Warning = "#fbbf24",
        },
        Typography = new Typography
        {
            Default = new DefaultTypography
            {
                FontFamily = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
            },
        },
    };
}
