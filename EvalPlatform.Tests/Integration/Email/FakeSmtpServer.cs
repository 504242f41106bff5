using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using MimeKit;

namespace EvalPlatform.Tests.Integration.Email;

/// <summary>Where in the SMTP conversation a scripted answer replaces the normal one.</summary>
public enum SmtpStage
{
    Greeting,
    Auth,
    MailFrom,
    RcptTo,
    Data,
    EndOfData,
}

/// <summary>A message as the fake received it: the envelope and the parsed MIME message.</summary>
public sealed record ReceivedMail(string MailFrom, IReadOnlyList<string> RcptTo, MimeMessage Message, string Raw);

/// <summary>
/// A small SMTP server (RFC 5321) on a loopback port for the real MailKit client to talk to: greeting, EHLO (8BITMIME,
/// AUTH PLAIN; no PIPELINING, no STARTTLS), AUTH PLAIN against one user, MAIL, RCPT, DATA with dot-unstuffing, RSET,
/// NOOP, QUIT. <see cref="Script"/> makes the next conversation that reaches a stage answer with a given reply (421 at
/// the greeting closes the connection, as servers do), so tests see 4xx and 5xx answers exactly as a real server gives them.
/// </summary>
public sealed class FakeSmtpServer : IAsyncDisposable
{
    public const string UserName = "mailer";
    public const string Password = "s3cret-pass";

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<SmtpStage, ConcurrentQueue<string>> _script = new();
    private readonly List<ReceivedMail> _received = [];
    private readonly Lock _lock = new();
    private Task? _accepting;

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Conversations that got as far as a greeting (each attempt of the sender is one).</summary>
    public int Connections { get; private set; }

    /// <summary>Points the app's <c>Smtp</c> section at this server (plain SMTP, a 5 s timeout), with its login or without.</summary>
    public void ConfigureApp(IWebHostBuilder builder, string from, bool login)
    {
        builder.UseSetting("Smtp:Host", "127.0.0.1");
        builder.UseSetting("Smtp:Port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("Smtp:Security", "None");
        builder.UseSetting("Smtp:From", from);
        builder.UseSetting("Smtp:TimeoutSeconds", "5");
        if (login)
        {
            builder.UseSetting("Smtp:UserName", UserName);
            builder.UseSetting("Smtp:Password", Password);
        }
    }

    public static FakeSmtpServer Start()
    {
        var server = new FakeSmtpServer();
        server._listener.Start();
        server._accepting = server.AcceptAsync();
        return server;
    }

    public IReadOnlyList<ReceivedMail> Received
    {
        get
        {
            lock (_lock)
            {
                return [.. _received];
            }
        }
    }

    /// <summary>The messages received for <paramref name="address"/> (envelope recipient).</summary>
    public IReadOnlyList<ReceivedMail> To(string address) =>
        Received.Where(m => m.RcptTo.Contains(address, StringComparer.OrdinalIgnoreCase)).ToList();

    /// <summary>The next conversation to reach <paramref name="stage"/> answers <paramref name="reply"/> (e.g. "451 4.3.0 Try again later").</summary>
    public void Script(SmtpStage stage, string reply) => _script.GetOrAdd(stage, _ => new ConcurrentQueue<string>()).Enqueue(reply);

    private string? Scripted(SmtpStage stage) => _script.TryGetValue(stage, out var q) && q.TryDequeue(out var reply) ? reply : null;

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = Task.Run(() => ConverseAsync(client));
        }
    }

    private async Task ConverseAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            await using var stream = client.GetStream();
            using var reader = new StreamReader(stream, new UTF8Encoding(false), false, 1024, leaveOpen: true);
            await using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1024, leaveOpen: true) { NewLine = "\r\n", AutoFlush = true };
            lock (_lock)
            {
                Connections++;
            }

            if (Scripted(SmtpStage.Greeting) is { } greeting)
            {
                await writer.WriteLineAsync(greeting);
                return;
            }

            await writer.WriteLineAsync("220 fake.smtp.test ESMTP FakeSmtp ready");
            string? from = null;
            var rcpt = new List<string>();
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                var verb = (line.Split(' ', 2)[0]).ToUpperInvariant();
                switch (verb)
                {
                    case "EHLO":
                        await writer.WriteAsync("250-fake.smtp.test greets you\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 ENHANCEDSTATUSCODES\r\n");
                        break;
                    case "HELO":
                        await writer.WriteLineAsync("250 fake.smtp.test");
                        break;
                    case "AUTH":
                        var parts = line.Split(' ');
                        var initial = parts.Length > 2 ? parts[2] : null;
                        if (initial is null)
                        {
                            await writer.WriteLineAsync("334 ");
                            initial = await reader.ReadLineAsync(_stop.Token);
                        }

                        if (Scripted(SmtpStage.Auth) is { } authReply)
                        {
                            await writer.WriteLineAsync(authReply);
                        }
                        else
                        {
                            var fields = Encoding.UTF8.GetString(Convert.FromBase64String(initial ?? "")).Split('\0');
                            await writer.WriteLineAsync(fields.Length == 3 && fields[1] == UserName && fields[2] == Password
                                ? "235 2.7.0 Authentication successful"
                                : "535 5.7.8 Authentication credentials invalid");
                        }

                        break;
                    case "MAIL":
                        from = Between(line);
                        rcpt.Clear();
                        await writer.WriteLineAsync(Scripted(SmtpStage.MailFrom) ?? "250 2.1.0 Ok");
                        break;
                    case "RCPT":
                        var rcptReply = Scripted(SmtpStage.RcptTo);
                        if (rcptReply is null)
                        {
                            rcpt.Add(Between(line));
                        }

                        await writer.WriteLineAsync(rcptReply ?? "250 2.1.5 Ok");
                        break;
                    case "DATA":
                        if (Scripted(SmtpStage.Data) is { } dataReply)
                        {
                            await writer.WriteLineAsync(dataReply);
                            break;
                        }

                        await writer.WriteLineAsync("354 End data with <CR><LF>.<CR><LF>");
                        var raw = new StringBuilder();
                        while (await reader.ReadLineAsync(_stop.Token) is { } dataLine && dataLine != ".")
                        {
                            raw.Append(dataLine.StartsWith("..", StringComparison.Ordinal) ? dataLine[1..] : dataLine).Append("\r\n");
                        }

                        if (Scripted(SmtpStage.EndOfData) is { } endReply)
                        {
                            await writer.WriteLineAsync(endReply);
                            break;
                        }

                        var text = raw.ToString();
                        var message = await MimeMessage.LoadAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)));
                        lock (_lock)
                        {
                            _received.Add(new ReceivedMail(from ?? "", [.. rcpt], message, text));
                        }

                        await writer.WriteLineAsync("250 2.0.0 Ok: queued as FAKE");
                        break;
                    case "RSET":
                        from = null;
                        rcpt.Clear();
                        await writer.WriteLineAsync("250 2.0.0 Ok");
                        break;
                    case "NOOP":
                        await writer.WriteLineAsync("250 2.0.0 Ok");
                        break;
                    case "QUIT":
                        await writer.WriteLineAsync("221 2.0.0 Bye");
                        return;
                    default:
                        await writer.WriteLineAsync("502 5.5.2 Command not recognized");
                        break;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away (or the server is stopping): the conversation is over.
        }
    }

    private static string Between(string line)
    {
        var start = line.IndexOf('<', StringComparison.Ordinal);
        var end = line.IndexOf('>', StringComparison.Ordinal);
        return start >= 0 && end > start ? line[(start + 1)..end] : "";
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        if (_accepting is not null)
        {
            await _accepting;
        }

        _stop.Dispose();
    }
}
