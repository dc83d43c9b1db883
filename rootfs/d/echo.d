import std.stdio;

void main()
{
    ubyte[65536] buf;
    foreach (chunk; stdin.byChunk(buf[]))
        stdout.rawWrite(chunk);
}
