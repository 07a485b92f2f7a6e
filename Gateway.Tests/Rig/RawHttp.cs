using System.Net.Sockets;
using System.Text;

namespace Gateway.Tests.Rig;

/// <summary>
/// An attacker's HTTP/1.1 client: sends the headers, then streams a large body while reading the answer, and stops
/// sending the moment the server answers (as curl does), so a server that refuses early is seen refusing early.
/// </summary>
internal static class RawHttp
{
    public sealed record Answer(int Status, long BodyBytesSent);

    /// <param name="prefix">The body's first bytes (a multipart part's headers, say).</param>
    /// <param name="unit">Repeated after <paramref name="prefix"/> until the body has <paramref name="bodyBytes"/> bytes.</param>
    /// <param name="chunked">Transfer-Encoding: chunked instead of a declared Content-Length.</param>
    public static async Task<Answer> PostAsync(int port, string path, string contentType, long bodyBytes, byte[] prefix, byte[] unit,
        bool chunked, string extraHeaders = "", CancellationToken cancellationToken = default)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
        var stream = client.GetStream();
        var head = $"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {contentType}\r\n" +
                   (chunked ? "Transfer-Encoding: chunked\r\n" : $"Content-Length: {bodyBytes}\r\n") + extraHeaders + "\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), cancellationToken);
        var answer = ReadStatusAsync(stream, cancellationToken);

        long sent = 0;
        var chunk = new byte[64 * 1024];
        var unitAt = 0;
        try
        {
            while (sent < bodyBytes && !answer.IsCompleted)
            {
                var length = (int)Math.Min(chunk.Length, bodyBytes - sent);
                for (var i = 0; i < length; i++)
                {
                    var at = sent + i;
                    if (at < prefix.Length) chunk[i] = prefix[at];
                    else
                    {
                        chunk[i] = unit[unitAt];
                        unitAt = (unitAt + 1) % unit.Length;
                    }
                }
                if (chunked) await stream.WriteAsync(Encoding.ASCII.GetBytes($"{length:x}\r\n"), cancellationToken);
                await stream.WriteAsync(chunk.AsMemory(0, length), cancellationToken);
                if (chunked) await stream.WriteAsync("\r\n"u8.ToArray(), cancellationToken);
                sent += length;
            }
            if (chunked && !answer.IsCompleted) await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), cancellationToken);
        }
        catch (IOException)
        {
            // The server closed the connection while we were still sending: its answer, if any, is read below.
        }
        var status = await answer.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        return new Answer(status, sent);
    }

    /// <summary>The status code of the answer, or 0 when the connection ended without one.</summary>
    private static async Task<int> ReadStatusAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        var read = 0;
        try
        {
            while (read < buffer.Length)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken);
                if (n == 0) break;
                read += n;
                var text = Encoding.ASCII.GetString(buffer, 0, read);
                var end = text.IndexOf("\r\n", StringComparison.Ordinal);
                if (end > 0 && text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal)) return int.Parse(text.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }
}
