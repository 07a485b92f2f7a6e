namespace Gateway.Admin;

/// <summary><c>Gateway:Admin</c>: the session admin endpoint under <c>/_gateway/sessions</c>.</summary>
public sealed class AdminOptions
{
    /// <summary>Key sent as <c>Authorization: Bearer &lt;key&gt;</c>; compared in constant time. At least 32 characters. Empty: key access off.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Named policy (from Gateway:Policies) whose signed-in members may use the endpoint. Empty: policy access off.</summary>
    public string? Policy { get; set; }

    internal void Validate(Action<string, string> add)
    {
        if (!string.IsNullOrEmpty(ApiKey) && ApiKey.Length < 32) add("Admin:ApiKey", "must be at least 32 characters.");
    }
}
