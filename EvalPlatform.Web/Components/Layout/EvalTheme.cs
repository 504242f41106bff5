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
            Success = "#166534", // white text on it stays above 4.5:1 under the snackbar's 95 % opacity
            Error = "#b91c1c",
            Warning = "#b45309",
            Info = "#1565c0", // MudBlazor's #2196f3 is 3.1:1 as text on white (an outlined "draft" chip)
        },
        PaletteDark = new PaletteDark
        {
            Primary = "#a5b4fc",
            Secondary = "#5eead4",
            AppbarBackground = "#111827",
            Success = "#4ade80",
            Error = "#fca5a5", // #f87171 was 4.25:1 as outlined-button text on the dark surface
            Warning = "#fbbf24",
            Info = "#7dd3fc",
            Tertiary = "#f0abfc",
            // The dark palette's colours are light, so text on them is dark (white on #fbbf24 is 1.7:1), and secondary
            // text is brighter than MudBlazor's default (4.25:1 on the surface): both at least 4.5:1 (WCAG AA, axe).
            PrimaryContrastText = "#111827",
            SecondaryContrastText = "#111827",
            SuccessContrastText = "#111827",
            ErrorContrastText = "#111827",
            WarningContrastText = "#111827",
            InfoContrastText = "#111827",
            TertiaryContrastText = "#111827",
            TextSecondary = "rgba(255,255,255,0.70)",
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
