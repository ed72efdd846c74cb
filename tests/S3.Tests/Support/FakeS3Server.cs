using System.Net;
using System.Net.Sockets;
using System.Text;

namespace BackupFs.S3.Tests.Support;

/// <summary>
/// A tiny in-process HTTP server answering S3 requests from a script: used to inject 503 SlowDown
/// and other statuses deterministically. It does not check signatures (the real gateway tests do).
/// </summary>
public sealed class FakeS3Server : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<int, HttpListenerRequest, (int Status, string Body)> _respond;
    private int _requests;

    public int Requests => Volatile.Read(ref _requests);
    public string Endpoint { get; }

    /// <param name="respond">request number (1-based) and request -> status and XML body</param>
    public FakeS3Server(Func<int, HttpListenerRequest, (int Status, string Body)> respond)
    {
        _respond = respond;
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Endpoint = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Endpoint + "/");
        _listener.Start();
        _ = LoopAsync();
    }

    public static string Error(string code, string message) =>
        $"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>fake</RequestId></Error>";

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch { return; }
            int n = Interlocked.Increment(ref _requests);
            try
            {
                using (var sink = new MemoryStream()) await ctx.Request.InputStream.CopyToAsync(sink);
                var (status, body) = _respond(n, ctx.Request);
                ctx.Response.StatusCode = status;
                if (status == 200) ctx.Response.AddHeader("ETag", "\"0123456789abcdef0123456789abcdef\"");
                var bytes = Encoding.UTF8.GetBytes(body);
                if (bytes.Length > 0) ctx.Response.ContentType = "application/xml";
                ctx.Response.ContentLength64 = bytes.Length;
                await ctx.Response.OutputStream.WriteAsync(bytes);
                ctx.Response.Close();
            }
            catch { try { ctx.Response.Abort(); } catch { } }
        }
    }

    public void Dispose()
    {
        try { _listener.Stop(); _listener.Close(); } catch { }
    }
}
