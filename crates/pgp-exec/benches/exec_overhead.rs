fn main() {
    pgp_exec::worker::run_if_worker();
}
