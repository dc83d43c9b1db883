fun main() {
    println(undefined_name)
}
