namespace Gateway.Redis;

/// <summary><c>Gateway:Redis</c>.</summary>
public sealed class RedisOptions
{
    /// <summary>StackExchange.Redis configuration string, e.g. <c>redis:6379,password=...</c>. Empty: the in-memory store (one instance only).</summary>
    public string? Configuration { get; set; }

    /// <summary>
    /// The Redis user's password, when it is kept apart from <see cref="Configuration"/> (a Kubernetes Secret beside a
    /// plain list of sentinels, say); overrides a <c>password=</c> in the configuration string. Used for the data nodes
    /// and the sentinels alike, as StackExchange.Redis does. Never logged.
    /// </summary>
    public string? Password { get; set; }

    /// <summary>Prefix of every key the gateway writes; the Redis is shared with the CMS. Default <c>gw:</c>.</summary>
    public string KeyPrefix { get; set; } = "gw:";

    /// <summary>Timeout of one Redis call, including its retries. Default 250 ms.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How long the circuit stays open after Redis failed repeatedly, before one call probes it again. Default
    /// 500 ms: commands fail fast while the socket is down anyway, so the breaker only has to spare a slow Redis,
    /// and a restarted Redis is used again within a second.
    /// </summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Redis list holding the DataProtection keys (Microsoft's layout). Default <c>DataProtection-Keys</c>.</summary>
    public string DataProtectionKey { get; set; } = "DataProtection-Keys";

    /// <summary>
    /// How many replicas must acknowledge a write the user is told succeeded (a session created, a logout, a
    /// revocation) before it counts, with Redis's <c>WAIT</c>. Counted against the replicas connected to the primary
    /// now: with fewer connected, fewer are waited for, and with none the write proceeds unreplicated (logged).
    /// Default 1; 0 never waits (a failover may then lose acknowledged logins and undo logouts).
    /// </summary>
    public int WaitReplicas { get; set; } = 1;

    /// <summary>How long <c>WAIT</c> may take before the write is reported as failed (503). Default 500 ms.</summary>
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    internal bool IsConfigured => !string.IsNullOrWhiteSpace(Configuration);

    internal void Validate(Action<string, string> add)
    {
        if (string.IsNullOrEmpty(KeyPrefix) || KeyPrefix.IndexOfAny(['{', '}', ' ']) >= 0)
            add("Redis:KeyPrefix", "must be non-empty and hold no '{', '}' or spaces (braces would break Redis Cluster hash tags).");
        if (OperationTimeout < TimeSpan.FromMilliseconds(10) || OperationTimeout > TimeSpan.FromSeconds(30))
            add("Redis:OperationTimeout", "must be between 00:00:00.010 and 00:00:30.");
        if (BreakDuration < TimeSpan.FromMilliseconds(100) || BreakDuration > TimeSpan.FromMinutes(5))
            add("Redis:BreakDuration", "must be between 00:00:00.1 and 00:05:00.");
        if (WaitReplicas is < 0 or > 16)
            add("Redis:WaitReplicas", "must be between 0 (never wait for a replica) and 16.");
        if (WaitTimeout < TimeSpan.FromMilliseconds(10) || WaitTimeout > TimeSpan.FromSeconds(10))
            add("Redis:WaitTimeout", "must be between 00:00:00.010 and 00:00:10.");
        if (string.IsNullOrWhiteSpace(DataProtectionKey))
            add("Redis:DataProtectionKey", "must name the Redis list of DataProtection keys.");
        if (IsConfigured)
        {
            try { StackExchange.Redis.ConfigurationOptions.Parse(Configuration!); }
            catch (ArgumentException ex) { add("Redis:Configuration", $"is not a valid StackExchange.Redis configuration string: {ex.Message}"); }
        }
    }
}
