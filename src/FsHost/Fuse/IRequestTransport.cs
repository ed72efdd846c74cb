using BackupFs.Datastore.Reading;

namespace BackupFs.FsHost.Fuse;

/// <summary>How a slot's reply reaches the kernel: a write(2) on /dev/fuse, or a commit on the
/// io_uring entry that brought the request.</summary>
internal interface IRequestTransport
{
    /// <summary>Sends the reply whose payload (<paramref name="payloadLength"/> bytes) is in the
    /// slot's reply payload; <paramref name="error"/> is 0 or -errno.</summary>
    void Send(RequestSlot slot, int payloadLength, int error);

    /// <summary>Sends a successful read reply whose data is <paramref name="slices"/> (held chunk slices).</summary>
    void SendSlices(RequestSlot slot, ReadSlices slices);

    /// <summary>The slot's request is fully done (reply sent): the slot may serve another.</summary>
    void Recycle(RequestSlot slot);
}
