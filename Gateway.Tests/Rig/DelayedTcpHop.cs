using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Gateway.Tests.Rig;

/// <summary>
/// A TCP hop that holds back what the server sends its client by a fixed delay (order kept), and passes the other
/// direction at once. Between a Redis primary and its replica it makes replication lag as it does across a network:
/// on loopback a write reaches the replica before the client even hears back, and a test without WAIT passes by luck.
/// </summary>
internal sealed class DelayedTcpHop : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly int _targetPort;
    private long _delayTicks;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _sockets = [];
    private readonly Task _accepting;

    private DelayedTcpHop(int targetPort, TimeSpan delay)
    {
        _targetPort = targetPort;
        _delayTicks = delay.Ticks;
        Port = Tools.FreePort();
        _listener = new TcpListener(IPAddress.Loopback, Port);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>The delay towards the client, changeable while data flows (a replica falling behind, or catching up).</summary>
    public TimeSpan Delay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _delayTicks));
        set => Interlocked.Exchange(ref _delayTicks, value.Ticks);
    }

    public static DelayedTcpHop Start(int targetPort, TimeSpan delayToClient) => new(targetPort, delayToClient);

    private async Task AcceptAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptSocketAsync(_stop.Token);
                var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                client.NoDelay = true;
                lock (_sockets) _sockets.AddRange([client, server]);
                try
                {
                    await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
                }
                catch (SocketException)
                {
                    client.Dispose();
                    server.Dispose();
                    continue;
                }
                _ = PumpAsync(client, server, delayed: false);
                _ = PumpAsync(server, client, delayed: true);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    private async Task PumpAsync(Socket from, Socket to, bool delayed)
    {
        var pending = Channel.CreateUnbounded<(byte[] Data, long Due)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var writer = Task.Run(async () =>
        {
            try
            {
                await foreach (var (data, due) in pending.Reader.ReadAllAsync(_stop.Token))
                {
                    var wait = TimeSpan.FromTicks(due - DateTime.UtcNow.Ticks);
                    if (wait > TimeSpan.Zero) await Task.Delay(wait, _stop.Token);
                    await to.SendAsync(data, SocketFlags.None, _stop.Token);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
            }
            finally
            {
                to.Dispose();
            }
        });
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0) break;
                pending.Writer.TryWrite((buffer.AsSpan(0, read).ToArray(), (DateTime.UtcNow + (delayed ? Delay : TimeSpan.Zero)).Ticks));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
        pending.Writer.TryComplete();
        await writer;
        from.Dispose();
    }

    /// <summary>
    /// The link dies with the server's host: what it sent and the hop still holds is lost, as bytes still in a crashed
    /// machine's buffers are. (Without this, the hop would deliver everything after the server died.)
    /// </summary>
    public ValueTask CutAsync() => DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_sockets)
            foreach (var socket in _sockets) socket.Dispose();
        await _accepting;
    }
}
