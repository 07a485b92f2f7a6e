using Gateway.Configuration;
using Gateway.Observability;
using Gateway.Sessions;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// Every Redis call goes through here: a per-attempt timeout, retries with jitter for reads only,
/// and one circuit breaker shared by all calls, so an outage costs milliseconds per request
/// instead of piling up waiting callers. Failures surface as <see cref="StoreUnavailableException"/>.
/// </summary>
internal sealed class RedisCalls
{
    private readonly RedisConnection _connection;
    private readonly GatewayMetrics _metrics;
    private readonly ResiliencePipeline _core;
    private readonly ResiliencePipeline _readRetry;
    private readonly ResiliencePipeline _background;

    private readonly ReplicaAcknowledgements? _acknowledgements;

    public RedisCalls(RedisConnection connection, ReplicaAcknowledgements acknowledgements, IOptions<RedisOptions> options, GatewayMetrics metrics, TimeProvider time)
        : this(connection, options.Value, metrics, time)
    {
        _acknowledgements = acknowledgements;
    }

    internal RedisCalls(RedisConnection connection, RedisOptions redis, GatewayMetrics metrics, TimeProvider time)
    {
        _connection = connection;
        _metrics = metrics;
        // The caller's token decides what a cancellation is: the caller's own (the client went away) passes through as it
        // is; any other (the Redis client cancelling its pending commands while a hung connection is torn down) is Redis
        // failing, like a timeout.
        static ValueTask<bool> Handled(Outcome<object> outcome, ResilienceContext context) =>
            ValueTask.FromResult(IsRedisFailure(outcome.Exception, context.CancellationToken));
        // One breaker for reads and writes alike: a Redis that is down is down for both.
        _core = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = args => Handled(args.Outcome, args.Context),
                FailureRatio = 0.5,
                MinimumThroughput = 4,
                SamplingDuration = TimeSpan.FromSeconds(10),
                BreakDuration = redis.BreakDuration,
                StateProvider = CircuitState,
            })
            .AddTimeout(redis.OperationTimeout)
            .Build();
        _background = new ResiliencePipelineBuilder { TimeProvider = time }.AddTimeout(redis.OperationTimeout).Build();
        // Reads are idempotent: retry a transient failure with jittered backoff, within a total budget.
        _readRetry = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddTimeout(redis.OperationTimeout * 3)
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = args => Handled(args.Outcome, args.Context),
                MaxRetryAttempts = 2,
                Delay = TimeSpan.FromMilliseconds(10),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
            })
            .Build();
    }

    public CircuitBreakerStateProvider CircuitState { get; } = new();

    /// <summary>A failure of Redis (not of the caller): what the breaker counts, reads retry, and callers see as 503.</summary>
    internal static bool IsRedisFailure(Exception? exception, CancellationToken callerToken) =>
        exception is RedisException or TimeoutException or TimeoutRejectedException
        || (exception is OperationCanceledException && !callerToken.IsCancellationRequested)
        // A connection torn down under a command in flight: the client's pipe or socket says so in its own words.
        || (exception is InvalidOperationException or ObjectDisposedException or IOException
            && exception.Source is "StackExchange.Redis" or "System.IO.Pipelines" or "Pipelines.Sockets.Unofficial" or "System.Net.Sockets");

    public string Key(string suffix) => _connection.KeyPrefix + suffix;

    /// <summary>Whether any keys may share one command (not a cluster, known once connected).</summary>
    public bool AnyKeysTogether => _connection.IsCluster == false;

    /// <summary>Known to be a Redis Cluster (not merely not known to be anything else yet).</summary>
    public bool IsCluster => _connection.IsCluster == true;

    public Task<T> ReadAsync<T>(string operation, Func<IDatabase, Task<T>> call, CancellationToken cancellationToken) =>
        RunAsync(_core, retry: true, operation, call, cancellationToken);

    public Task<T> WriteAsync<T>(string operation, Func<IDatabase, Task<T>> call, CancellationToken cancellationToken) =>
        RunAsync(_core, retry: false, operation, call, cancellationToken);

    /// <summary>
    /// A read no request waits on (the sessions read ahead): one attempt within the per-call timeout, not retried and
    /// not counted by the breaker, so a slow shard cannot open the circuit for every request; refused at once while the
    /// breaker is not closed (the requests have found Redis failing).
    /// </summary>
    public Task<T> BackgroundReadAsync<T>(string operation, Func<IDatabase, Task<T>> call, CancellationToken cancellationToken)
    {
        if (CircuitState.CircuitState != Polly.CircuitBreaker.CircuitState.Closed) throw new StoreUnavailableException($"Redis {operation} not attempted: the circuit is open");
        return RunAsync(_background, retry: false, operation, call, cancellationToken);
    }

    /// <summary>
    /// A write the user will be told succeeded (a session created, a logout, a revocation): applied, then acknowledged
    /// by the replicas connected to the primary (<see cref="ReplicaAcknowledgements"/>), or
    /// <see cref="UnacknowledgedWriteException"/>. Not retried, like every write. <paramref name="key"/>: one the write
    /// touched, which names the primary (the cluster shard) whose replicas must acknowledge it.
    /// </summary>
    public async Task<T> AcknowledgedWriteAsync<T>(string operation, RedisKey key, Func<IDatabase, Task<T>> call, CancellationToken cancellationToken)
    {
        // Not through the breaker: a slow replica must not open the circuit for every session read.
        if (_acknowledgements is null) return await WriteAsync(operation, call, cancellationToken);
        return await _acknowledgements.WriteAsync(operation, key, call, cancellationToken);
    }

    public async Task PublishAsync(string channel, string message, CancellationToken cancellationToken)
    {
        await WriteAsync("publish", async _ =>
        {
            var multiplexer = await _connection.GetAsync();
            return await multiplexer.GetSubscriber().PublishAsync(RedisChannel.Literal(channel), message);
        }, cancellationToken);
    }

    /// <summary>One attempt through <paramref name="pipeline"/>: the breaker and timeout (<c>_core</c>), or the timeout alone (<c>_background</c>).</summary>
    private ValueTask<T> AttemptAsync<T>(ResiliencePipeline pipeline, Func<IDatabase, Task<T>> call, CancellationToken cancellationToken) =>
        pipeline.ExecuteAsync(
            static async (state, ct) =>
            {
                var db = await state.connection.DatabaseAsync().WaitAsync(ct);
                // StackExchange.Redis takes no token: stop waiting on it when the attempt times out.
                return await state.call(db).WaitAsync(ct);
            },
            (connection: _connection, call),
            cancellationToken);

    private async Task<T> RunAsync<T>(ResiliencePipeline attempt, bool retry, string operation, Func<IDatabase, Task<T>> call, CancellationToken cancellationToken)
    {
        var started = GatewayMetrics.Timestamp();
        try
        {
            var state = (calls: this, attempt, call);
            return retry
                ? await _readRetry.ExecuteAsync(static (s, ct) => s.calls.AttemptAsync(s.attempt, s.call, ct), state, cancellationToken)
                : await AttemptAsync(attempt, call, cancellationToken);
        }
        catch (Exception ex) when (ex is BrokenCircuitException || IsRedisFailure(ex, cancellationToken))
        {
            _metrics.RedisError(operation);
            throw new StoreUnavailableException($"Redis {operation} failed: {ex.GetType().Name}", ex);
        }
        finally
        {
            _metrics.RedisLatency(operation, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        }
    }
}
