namespace Gateway.Configuration;

/// <summary>
/// The <c>Gateway:</c> section bound once at registration, with what the binder could not convert, and the
/// one start-up check the server and every command run before anything else: every problem by key, in one
/// message, never a stack trace.
/// </summary>
internal sealed class StartupCheck(GatewayOptions settings, IReadOnlyList<string> bindErrors)
{
    public GatewayOptions Settings { get; } = settings;

    /// <summary>Values the binder could not convert, each naming its key.</summary>
    public IReadOnlyList<string> BindErrors { get; } = bindErrors;

    /// <summary>Binds the section; a value that cannot be converted becomes a problem naming its key, with defaults meanwhile.</summary>
    public static StartupCheck Bind(IConfiguration configuration)
    {
        try
        {
            return new StartupCheck(GatewayOptions.Read(configuration), []);
        }
        catch (GatewayStartupException ex)
        {
            return new StartupCheck(new GatewayOptions(), [ex.Message.TrimStart(' ', '-')]);
        }
    }

    /// <summary>Every settings problem; empty when the gateway can start.</summary>
    public List<string> Problems(bool isDevelopment)
    {
        var problems = new List<string>(BindErrors);
        if (problems.Count == 0) problems.AddRange(GatewayOptionsValidator.Collect(Settings, isDevelopment));
        return problems;
    }

    public static string Format(IEnumerable<string> problems) => "  - " + string.Join(Environment.NewLine + "  - ", problems);
}
