using System.Net;
using System.Net.Sockets;

namespace BackupFs.S3.Tests.Support;

/// <summary>
/// In-test TCP proxy in front of the gateway for fault injection. Blackhole: bytes are swallowed
/// in both directions on every connection, pooled keep-alive ones included (a hung server).
/// Down: all connections are cut and new ones closed at once (a stopped server).
/// </summary>
public sealed class TcpFaultProxy : IDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _connections = new();

    public volatile bool Blackhole;
    /// <summary>Turns <see cref="Blackhole"/> on when bytes from the client match (e.g. one kind of request), before they are forwarded.</summary>
    public Func<ReadOnlyMemory<byte>, bool>? BlackholeWhen;
    private volatile bool _down;

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public string Endpoint => $"http://127.0.0.1:{Port}";

    public TcpFaultProxy(Uri upstream)
    {
        _upstream = new IPEndPoint(IPAddress.Loopback, upstream.Port);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _ = AcceptLoopAsync();
    }

    public bool Down
    {
        get => _down;
        set
        {
            _down = value;
            if (value) CloseAll();
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch { return; }
            if (_down) { client.Dispose(); continue; }
            _ = HandleAsync(client);
        }
    }

    private async Task HandleAsync(TcpClient client)
    {
        var upstream = new TcpClient();
        lock (_connections) { _connections.Add(client); _connections.Add(upstream); }
        try
        {
            client.NoDelay = true;
            upstream.NoDelay = true;
            await upstream.ConnectAsync(_upstream, _stop.Token);
            var a = PumpAsync(client.GetStream(), upstream.GetStream(), fromClient: true);
            var b = PumpAsync(upstream.GetStream(), client.GetStream(), fromClient: false);
            await Task.WhenAny(a, b);
        }
        catch { }
        finally
        {
            client.Dispose();
            upstream.Dispose();
            lock (_connections) { _connections.Remove(client); _connections.Remove(upstream); }
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool fromClient)
    {
        var buffer = new byte[65536];
        while (true)
        {
            int n = await from.ReadAsync(buffer, _stop.Token);
            if (n == 0) return;
            if (fromClient && BlackholeWhen is { } when && when(buffer.AsMemory(0, n))) Blackhole = true;
            if (Blackhole) continue;
            await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
        }
    }

    private void CloseAll()
    {
        lock (_connections)
        {
            foreach (var c in _connections)
            {
                try { c.Client.LingerState = new LingerOption(true, 0); } catch { }
                c.Dispose();
            }
            _connections.Clear();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        CloseAll();
    }
}
